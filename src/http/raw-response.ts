// Answers written straight to a socket, where there is no response object: a client error the
// parser refused, a CONNECT, and an upgrade request that the hop answers itself or whose plain
// answer it relays. One writer, so every such answer has the same framing, and one way to end such
// a connection so that it really ends.

import http from 'node:http';
import type { Duplex } from 'node:stream';

/** A short text answer that closes the connection; `headers` go before the framing ones (Retry-After). */
export function rawAnswer(status: number, message: string, headers: readonly (readonly [string, string])[] = []): string {
  const body = `${message}\n`;
  const fields = [...headers, ['Content-Type', 'text/plain; charset=utf-8'], ['Content-Length', String(Buffer.byteLength(body))], ['Connection', 'close']];
  return `${rawResponseHead(status, http.STATUS_CODES[status] ?? '', fields.flat())}${body}`;
}

/** A status line and header fields (alternating names and values, as Node's rawHeaders), up to the blank line. */
export function rawResponseHead(status: number, statusMessage: string, rawHeaders: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${statusMessage}\r\n`;
  for (let i = 0; i < rawHeaders.length; i += 2) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/**
 * How long a connection that has had its last answer waits for the client to stop sending. Closing
 * with the client's bytes unread makes the kernel reset the connection, which can destroy the
 * answer before the client reads it (nginx's lingering close waits 5 s for the same reason).
 */
export const LINGER_MS = 2_000;

/**
 * Ends a connection that was taken out of the HTTP server (an upgrade) once `answer` — or what was
 * already written or piped to it — has been sent: whatever the client still sends is read and
 * dropped until it ends its side or LINGER_MS passes, then the socket is destroyed. Ending our side
 * alone is not enough: a client that keeps sending, or whose bytes wait unread, would keep the
 * socket (and, at the interceptor, a request counted in flight) open for good — found by the fuzz
 * suite with an upgrade request followed by 128 KiB.
 */
export function endUpgraded(socket: Duplex, answer?: string): void {
  socket.on('error', () => socket.destroy());
  if (!socket.writable) return void socket.destroy();
  socket.end(answer, () => {
    if (socket.readableEnded) return void socket.destroy();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    socket.once('close', () => clearTimeout(timer));
    socket.once('end', () => socket.destroy());
    socket.resume();
  });
}
