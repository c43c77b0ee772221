// A closed-loop load generator: `concurrency` workers over keep-alive connections, each sending
// its next request when the previous one is answered, until the time or the count runs out.

import http from 'node:http';

export interface LoadResult {
  sent: number;
  answered: number;
  statuses: Map<number, number>;
  /** Errors by code; ECONNREFUSED means a new connection was refused (nothing was sent on it). */
  errors: Map<string, number>;
  latenciesMs: number[];
  durationMs: number;
}

export async function closedLoop(port: number, options: { concurrency: number; durationMs: number; maxRequests: number; path?: string; host?: string; onStart?: () => void }): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  const result: LoadResult = { sent: 0, answered: 0, statuses: new Map(), errors: new Map(), latenciesMs: [], durationMs: 0 };
  const started = performance.now();
  const deadline = started + options.durationMs;
  const one = () =>
    new Promise<boolean>((resolve) => {
      const begin = performance.now();
      result.sent += 1;
      const req = http.get({ host: options.host ?? '127.0.0.1', port, path: options.path ?? '/', agent }, (res) => {
        res.resume();
        res.on('end', () => {
          result.answered += 1;
          result.latenciesMs.push(performance.now() - begin);
          result.statuses.set(res.statusCode ?? 0, (result.statuses.get(res.statusCode ?? 0) ?? 0) + 1);
          resolve(true);
        });
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        result.errors.set(error.code ?? error.message, (result.errors.get(error.code ?? error.message) ?? 0) + 1);
        resolve(false);
      });
    });
  const worker = async () => {
    while (performance.now() < deadline && result.sent < options.maxRequests) {
      if (!(await one())) break;
    }
  };
  options.onStart?.();
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  result.durationMs = performance.now() - started;
  agent.destroy();
  return result;
}
