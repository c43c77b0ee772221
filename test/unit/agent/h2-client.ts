// A node:http2 client for the HTTP/2 tests: one call, its answer whole (status, headers, body,
// trailers, the reset code if it was reset).

import http2 from 'node:http2';

export interface H2Answer {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
  trailers: http2.IncomingHttpHeaders | undefined;
  rstCode: number | undefined;
}

/** Sends one request on `session`; `body` undefined sends none (END_STREAM with the headers). */
export function h2Request(session: http2.ClientHttp2Session, path: string, headers: http2.OutgoingHttpHeaders = {}, body?: string): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ...headers }, { endStream: body === undefined });
    let status = 0;
    let responseHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    let text = '';
    stream.setEncoding('utf8');
    stream.on('response', (fields) => {
      status = Number(fields[':status']);
      responseHeaders = fields;
    });
    stream.on('trailers', (fields: http2.IncomingHttpHeaders) => {
      trailers = fields;
    });
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('error', () => undefined);
    stream.on('close', () =>
      status === 0 && stream.rstCode === undefined
        ? reject(new Error('closed without an answer'))
        : resolve({ status, headers: responseHeaders, body: text, trailers, rstCode: stream.rstCode }),
    );
    if (body !== undefined) stream.end(body);
  });
}

export function h2Connect(port: number, host = '127.0.0.1'): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${host}:${port}`);
    session.once('remoteSettings', () => resolve(session));
    session.once('error', reject);
  });
}
