// Header rewriting for a forwarding hop (the interceptor and the activator), on raw header arrays
// ([name, value, name, value, …] as in message.rawHeaders): no per-request objects, duplicates
// such as Set-Cookie kept as they came.
//
// Hop-by-hop fields (RFC 9110 §7.6.1) describe one connection and are dropped: Connection and the
// fields it lists, Proxy-Connection, Keep-Alive, TE, Transfer-Encoding, Upgrade. Node adds the
// framing of the next hop itself. An Upgrade request keeps Connection/Upgrade: it asks the next
// hop for the same upgrade.

const HOP_BY_HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'te', 'transfer-encoding', 'upgrade']);
/** Fields a Connection header may not take away: the request's framing and its Host. */
const NOT_CONNECTION_LISTED = new Set(['content-length', 'transfer-encoding', 'host']);

export interface ForwardedFor {
  /** The address of the peer that connected to us. */
  clientAddress: string | undefined;
  /** The scheme the client used to reach us. */
  proto: 'http' | 'https';
}

function connectionListed(raw: readonly string[]): Set<string> | undefined {
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] ?? '').toLowerCase() !== 'connection') continue;
    for (const token of (raw[i + 1] ?? '').split(',')) {
      const name = token.trim().toLowerCase();
      if (name) (listed ??= new Set()).add(name);
    }
  }
  return listed;
}

/** Request headers for the next hop, with X-Forwarded-For/Proto/Host added or extended, and Host kept or added. */
export function forwardRequestHeaders(raw: readonly string[], forwarded: ForwardedFor, upgrade = false): string[] {
  const listed = connectionListed(raw);
  const out: string[] = [];
  let forwardedFor: string | undefined;
  let hasProto = false;
  let hasForwardedHost = false;
  let host: string | undefined;
  let contentLength: string | undefined;
  const transferEncoding: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? '';
    const value = raw[i + 1] ?? '';
    const lower = name.toLowerCase();
    if (lower === 'content-length') {
      contentLength ??= value.split(',')[0]!.trim();
      continue;
    }
    if (lower === 'transfer-encoding') transferEncoding.push(value);
    if (HOP_BY_HOP.has(lower) || (listed?.has(lower) && !NOT_CONNECTION_LISTED.has(lower))) continue;
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      continue;
    }
    if (lower === 'x-forwarded-proto') hasProto = true;
    else if (lower === 'x-forwarded-host') hasForwardedHost = true;
    else if (lower === 'host') host = value;
    out.push(name, value);
  }
  if (forwarded.clientAddress) forwardedFor = forwardedFor === undefined ? forwarded.clientAddress : `${forwardedFor}, ${forwarded.clientAddress}`;
  if (forwardedFor !== undefined) out.push('X-Forwarded-For', forwardedFor);
  if (!hasProto) out.push('X-Forwarded-Proto', forwarded.proto);
  if (!hasForwardedHost && host !== undefined) out.push('X-Forwarded-Host', host);
  // The next hop is asked in HTTP/1.1, which requires Host; an HTTP/1.0 request may have none,
  // and its URI no authority: RFC 9112 §3.2 says to send Host empty then.
  if (host === undefined) out.push('Host', '');
  // The body goes on framed as it came, whatever the method: Node frames a GET's, DELETE's or
  // OPTIONS' body not at all unless told, and the next hop then read it as a request of its own,
  // smuggled past the count, with an X-Forwarded-For of the client's choosing. An upgrade sends
  // no body.
  if (!upgrade && contentLength !== undefined) out.push('Content-Length', contentLength);
  else if (!upgrade && transferEncoding.length > 0) out.push('Transfer-Encoding', transferEncoding.join(', '));
  if (upgrade) {
    const upgradeTo = headerValue(raw, 'upgrade');
    out.push('Connection', 'Upgrade');
    if (upgradeTo !== undefined) out.push('Upgrade', upgradeTo);
  }
  return out;
}

/** Response headers for the client: the upstream's, less its hop-by-hop fields. */
export function forwardResponseHeaders(raw: readonly string[]): string[] {
  const listed = connectionListed(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? '';
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed?.has(lower)) continue;
    out.push(name, raw[i + 1] ?? '');
  }
  return out;
}

/** The first value of a header in a raw array, matched case-insensitively. */
export function headerValue(raw: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] ?? '').toLowerCase() === lowerName) return raw[i + 1];
  }
  return undefined;
}
