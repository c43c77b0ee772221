// Whether the app accepts connections on its port, checked with a TCP connect and remembered for
// a second so that frequent /ready probes and /stats scrapes cost at most one connect per second.

import net from 'node:net';

export class AppReadiness {
  private ready = false;
  private checkedAt = -Infinity;
  private inProgress: Promise<boolean> | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly cacheMs = 1_000,
    private readonly timeoutMs = 500,
  ) {}

  /** The last known answer, refreshed in the background when older than the cache time. */
  current(): boolean {
    if (performance.now() - this.checkedAt > this.cacheMs) void this.check();
    return this.ready;
  }

  /** A fresh answer unless one is cached. */
  check(): Promise<boolean> {
    if (performance.now() - this.checkedAt <= this.cacheMs) return Promise.resolve(this.ready);
    this.inProgress ??= this.connect().then((ready) => {
      this.ready = ready;
      this.checkedAt = performance.now();
      this.inProgress = undefined;
      return ready;
    });
    return this.inProgress;
  }

  private connect(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: this.host, port: this.port });
      const done = (ready: boolean) => {
        socket.destroy();
        resolve(ready);
      };
      socket.setTimeout(this.timeoutMs, () => done(false));
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    });
  }
}
