// A client that writes whatever bytes a test gives it, over a real socket (TCP, or TLS for the
// webhook) on 127.0.0.1, and reads back what the server answers: every response, parsed by their
// framing (Content-Length, chunked, or up to the close), and how the connection ended. Nothing is
// assumed to be well formed on either side, and nothing waits unbounded: an exchange that neither
// gets its answers nor sees the connection end within `boundMs` fails as a hang.

import net from 'node:net';
import tls from 'node:tls';

export interface Endpoint {
  port: number;
  /** Set for TLS: the CA to trust and the name the certificate is for. */
  tls?: { ca: string; servername: string };
}

export interface RawResponse {
  status: number;
  /** Lower-case names; a repeated field's values joined with ', '. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface Exchange {
  responses: RawResponse[];
  /** `closed`: the server ended the connection; `reset`: it broke; `open`: we closed it, answered. */
  ended: 'closed' | 'reset' | 'open';
  ms: number;
  /** Bytes the server sent that do not parse as responses (a broken answer). */
  unparsed: Buffer;
  /** Bytes we wrote (less than all of them when the server answered early and `stopOnAnswer`). */
  written: number;
}

export interface ExchangeOptions {
  /** Whole writes, in order. */
  writes: readonly Buffer[];
  /** Wait this long between writes (a slow client); 0: write as fast as the socket takes them. */
  pauseMs?: number;
  /** This long after the last write, unless done, shut down our sending side (the server reads end of stream); 0: at once. */
  halfCloseAfterMs?: number;
  /** Stop writing as soon as the server starts answering, as curl does (a refused upload). */
  stopOnAnswer?: boolean;
  /** The answers owed: the exchange is done (ended `open`) once this many have arrived. */
  answers: number;
  /** Requests' methods in order, where a HEAD's answer has no body. */
  methods?: readonly string[];
  boundMs: number;
}

class Hang extends Error {}

function connect(endpoint: Endpoint): net.Socket {
  return endpoint.tls
    ? tls.connect({ host: '127.0.0.1', port: endpoint.port, ca: endpoint.tls.ca, servername: endpoint.tls.servername })
    : net.connect({ host: '127.0.0.1', port: endpoint.port });
}

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Parses as many whole responses as `data` holds; returns them and where the unparsed rest starts.
 * At the end of the stream (`ended`), a response without framing takes the rest.
 */
export function parseResponses(data: Buffer, methods: readonly string[], ended: boolean): { responses: RawResponse[]; rest: number } {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const headEnd = data.indexOf(HEAD_END, at);
    if (headEnd < 0) break;
    const [statusLine = '', ...fields] = data.subarray(at, headEnd).toString('latin1').split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    if (!match) break;
    const status = Number(match[1]);
    const headers: Record<string, string> = {};
    for (const field of fields) {
      const colon = field.indexOf(':');
      const name = field.slice(0, colon).trim().toLowerCase();
      const value = field.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    let bodyStart = headEnd + HEAD_END.length;
    // An interim answer (100 Continue) precedes the real one.
    if (status >= 100 && status < 200 && status !== 101) {
      at = bodyStart;
      continue;
    }
    // An answer to HEAD has no body, unless the server never read a HEAD there (bytes it could not
    // parse, answered on the socket): then a body follows at once, where another answer would.
    const headAnswer =
      methods[responses.length] === 'HEAD' && (data.length === bodyStart || data.subarray(bodyStart, bodyStart + 7).toString('latin1') === 'HTTP/1.');
    const noBody = headAnswer || status === 204 || status === 304 || status === 101;
    let body: Buffer;
    if (noBody) body = Buffer.alloc(0);
    else if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
      const chunks: Buffer[] = [];
      let complete = false;
      for (;;) {
        const lineEnd = data.indexOf('\r\n', bodyStart);
        if (lineEnd < 0) break;
        const size = parseInt(data.subarray(bodyStart, lineEnd).toString('latin1'), 16);
        if (Number.isNaN(size)) break;
        if (size === 0) {
          const trailerEnd = data.indexOf(HEAD_END, lineEnd);
          if (trailerEnd >= 0) bodyStart = trailerEnd + HEAD_END.length;
          else if (data.subarray(lineEnd, lineEnd + 4).equals(Buffer.from('\r\n\r\n'))) bodyStart = lineEnd + 4;
          else break;
          complete = true;
          break;
        }
        if (data.length < lineEnd + 2 + size + 2) break;
        chunks.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        bodyStart = lineEnd + 2 + size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(chunks);
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (data.length < bodyStart + length) break;
      body = data.subarray(bodyStart, bodyStart + length);
      bodyStart += length;
    } else if (ended) {
      body = data.subarray(bodyStart);
      bodyStart = data.length;
    } else break;
    responses.push({ status, headers, body: Buffer.from(body) });
    at = bodyStart;
  }
  return { responses, rest: at };
}

/** Writes the bytes, reads the answers; rejects with Hang when neither answers nor an end come in time. */
export function exchange(endpoint: Endpoint, options: ExchangeOptions): Promise<Exchange> {
  const started = performance.now();
  const methods = options.methods ?? [];
  return new Promise((resolve, reject) => {
    const socket = connect(endpoint);
    const received: Buffer[] = [];
    let answered = false;
    let settled = false;
    let written = 0;
    const finish = (ended: Exchange['ended']) => {
      if (settled) return;
      settled = true;
      clearTimeout(bound);
      socket.destroy();
      const data = Buffer.concat(received);
      const { responses, rest } = parseResponses(data, methods, ended !== 'open');
      resolve({ responses, ended, ms: performance.now() - started, unparsed: data.subarray(rest), written });
    };
    const bound = setTimeout(() => {
      if (settled) return;
      settled = true;
      socket.destroy();
      const { responses } = parseResponses(Buffer.concat(received), methods, false);
      reject(new Hang(`no end within ${options.boundMs} ms: ${responses.length} of ${options.answers} answers (${responses.map((r) => r.status).join(', ')})`));
    }, options.boundMs);
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      answered = true;
      if (parseResponses(Buffer.concat(received), methods, false).responses.length >= options.answers) finish('open');
    });
    socket.on('end', () => finish('closed'));
    socket.on('close', () => finish('closed'));
    socket.on('error', (error: NodeJS.ErrnoException) => finish(error.code === 'ECONNRESET' || error.code === 'EPIPE' ? 'reset' : 'closed'));

    const writeAll = async () => {
      await new Promise<void>((resolveConnect) => socket.once(endpoint.tls ? 'secureConnect' : 'connect', () => resolveConnect()));
      for (const [index, chunk] of options.writes.entries()) {
        if (settled || (options.stopOnAnswer && answered)) return;
        if (index > 0 && options.pauseMs) await new Promise((resolveWait) => setTimeout(resolveWait, options.pauseMs));
        if (settled || (options.stopOnAnswer && answered)) return;
        written += chunk.length;
        if (!socket.write(chunk)) await new Promise((resolveDrain) => socket.once('drain', resolveDrain));
      }
      const halfCloseAfterMs = options.halfCloseAfterMs;
      if (halfCloseAfterMs === undefined) return;
      if (halfCloseAfterMs > 0) await new Promise((resolveWait) => setTimeout(resolveWait, halfCloseAfterMs));
      if (!settled) socket.end();
    };
    writeAll().catch(() => finish('reset'));
  });
}

/** Writes part of a request and breaks the connection (a client that went away mid-request). */
export function cutOff(endpoint: Endpoint, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(endpoint);
    socket.on('error', () => undefined);
    socket.once(endpoint.tls ? 'secureConnect' : 'connect', () => socket.write(bytes, () => socket.destroy()));
    socket.once('close', () => resolve());
  });
}
