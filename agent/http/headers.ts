// Header rewriting for a forwarding hop (the interceptor and the activator), on raw header arrays
// ([name, value, name, value, …] as in message.rawHeaders): no per-request objects, duplicates
// such as Set-Cookie kept as they came.
//
// Hop-by-hop fields (RFC 9110 §7.6.1) describe one connection and are dropped: Connection and the
// fields it lists, Proxy-Connection, Keep-Alive, TE, Transfer-Encoding, Upgrade. Node adds the
// framing of the next hop itself. An Upgrade request keeps Connection/Upgrade: it asks the next
// hop for the same upgrade.

const HOP_BY_HOP = new Set(['connection', 'proxy-connection', 'keep-alive', 'te', 'transfer-encoding', 'upgrade']);

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

/** Request headers for the next hop, with X-Forwarded-For/Proto/Host added or extended. */
export function forwardRequestHeaders(raw: readonly string[], forwarded: ForwardedFor, upgrade = false): string[] {
  const listed = connectionListed(raw);
  const out: string[] = [];
  let forwardedFor: string | undefined;
  let hasProto = false;
  let hasForwardedHost = false;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? '';
    const value = raw[i + 1] ?? '';
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed?.has(lower)) continue;
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
