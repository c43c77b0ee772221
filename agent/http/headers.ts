// Header rewriting for a forwarding hop (the interceptor and the activator), on raw header arrays
// ([name, value, name, value, …] as in message.rawHeaders): no per-request objects, duplicates
// such as Set-Cookie kept as they came.
//
// Hop-by-hop fields (RFC 9110 §7.6.1) describe one connection and are dropped: Connection and the
// fields it lists, Proxy-Connection, Keep-Alive, TE, Transfer-Encoding, Upgrade. Node adds the
// framing of the next hop itself. An Upgrade request keeps Connection/Upgrade: it asks the next
// hop for the same upgrade.
//
// An HTTP/2 stream forwarded as an HTTP/2 stream (RFC 9113 §8.2.2) drops the same fields, but keeps
// `TE: trailers`, the one TE an h2 request may carry (gRPC sends it); its pseudo-header fields
// (:method, :path, :scheme, :authority) go on as they came, as Host does over HTTP/1.1.

import type http2 from 'node:http2';

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

/** The X-Forwarded-* fields a request came with, and those the hop sends on for them. */
class ForwardedSeen {
  private forwardedFor: string | undefined;
  private hasProto = false;
  private hasForwardedHost = false;

  /** Notes a field; true for X-Forwarded-For, which is sent on extended rather than as it came. */
  note(lower: string, value: string): boolean {
    if (lower === 'x-forwarded-for') {
      this.forwardedFor = this.forwardedFor === undefined ? value : `${this.forwardedFor}, ${value}`;
      return true;
    }
    if (lower === 'x-forwarded-proto') this.hasProto = true;
    else if (lower === 'x-forwarded-host') this.hasForwardedHost = true;
    return false;
  }

  /** X-Forwarded-For with the client appended, and X-Forwarded-Proto/Host unless the request had them. */
  fields(forwarded: ForwardedFor, host: string | undefined): string[] {
    const out: string[] = [];
    let forwardedFor = this.forwardedFor;
    if (forwarded.clientAddress) forwardedFor = forwardedFor === undefined ? forwarded.clientAddress : `${forwardedFor}, ${forwarded.clientAddress}`;
    if (forwardedFor !== undefined) out.push('X-Forwarded-For', forwardedFor);
    if (!this.hasProto) out.push('X-Forwarded-Proto', forwarded.proto);
    if (!this.hasForwardedHost && host !== undefined) out.push('X-Forwarded-Host', host);
    return out;
  }
}

/** Request headers for the next hop, with X-Forwarded-For/Proto/Host added or extended, and Host kept or added. */
export function forwardRequestHeaders(raw: readonly string[], forwarded: ForwardedFor, upgrade = false): string[] {
  const listed = connectionListed(raw);
  const out: string[] = [];
  const seen = new ForwardedSeen();
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
    if (seen.note(lower, value)) continue;
    if (lower === 'host') host = value;
    out.push(name, value);
  }
  out.push(...seen.fields(forwarded, host));
  // The next hop is asked in HTTP/1.1, which requires Host; an HTTP/1.0 request may have none,
  // and its URI no authority: RFC 9112 §3.2 says to send Host empty then.
  if (host === undefined) out.push('Host', '');
  if (upgrade) pushUpgradeFields(out, raw);
  else pushBodyFraming(out, contentLength, transferEncoding);
  return out;
}

/**
 * The body goes on framed as it came, whatever the method: Node frames a GET's, DELETE's or
 * OPTIONS' body not at all unless told, and the next hop then read it as a request of its own,
 * smuggled past the count, with an X-Forwarded-For of the client's choosing. Pushed into the
 * fields being built: this runs for every proxied request.
 */
function pushBodyFraming(out: string[], contentLength: string | undefined, transferEncoding: readonly string[]): void {
  if (contentLength !== undefined) out.push('Content-Length', contentLength);
  else if (transferEncoding.length > 0) out.push('Transfer-Encoding', transferEncoding.join(', '));
}

/** An upgrade sends no body: only the fields that ask for the upgrade. */
function pushUpgradeFields(out: string[], raw: readonly string[]): void {
  const upgradeTo = headerValue(raw, 'upgrade');
  out.push('Connection', 'Upgrade');
  if (upgradeTo !== undefined) out.push('Upgrade', upgradeTo);
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

/**
 * An HTTP/2 request's fields for the next hop's HTTP/2 stream (raw, as the 'stream' event gives
 * them): connection-specific fields dropped but `TE: trailers`, X-Forwarded-* as for HTTP/1.1 (the
 * forwarded host is :authority, else Host). Node's http2 takes an object: a repeated field is an array.
 */
export function forwardH2RequestHeaders(raw: readonly string[], forwarded: ForwardedFor): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  const seen = new ForwardedSeen();
  let authority: string | undefined;
  let host: string | undefined;
  const add = (name: string, value: string) => {
    const present = out[name];
    out[name] = present === undefined ? value : Array.isArray(present) ? [...present, value] : [String(present), value];
  };
  for (let i = 0; i < raw.length; i += 2) {
    const lower = (raw[i] ?? '').toLowerCase();
    const value = raw[i + 1] ?? '';
    if (lower === 'te' && value.trim().toLowerCase() === 'trailers') add(lower, value);
    if (HOP_BY_HOP.has(lower) || seen.note(lower, value)) continue;
    if (lower === ':authority') authority = value;
    else if (lower === 'host') host = value;
    add(lower, value);
  }
  const fields = seen.fields(forwarded, authority ?? host);
  for (let i = 0; i < fields.length; i += 2) add(fields[i]!.toLowerCase(), fields[i + 1]!);
  return out;
}

/** An HTTP/2 answer's fields (:status included) for the client, less any connection-specific one. */
export function forwardH2ResponseHeaders(headers: http2.IncomingHttpHeaders): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
  return out;
}

/** The first value of a header in a raw array, matched case-insensitively. */
export function headerValue(raw: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] ?? '').toLowerCase() === lowerName) return raw[i + 1];
  }
  return undefined;
}
