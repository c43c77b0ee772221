// The activator's sockets: one listening port per route, that is per sleeping Service port, so a
// request's port alone says whose it is (src/core/activity/route.ts). A port opens when its
// Service falls asleep and closes when its route goes away. Closing only stops accepting: the
// requests held or being forwarded on that port's connections still finish (Node's server.close()
// ends idle connections and leaves active ones), and their answers say Connection: close. A port
// that cannot be opened (another process has it) is tried again until its route goes away.
// Each port serves HTTP/1.1 and h2c alike (h2-front.ts); on close its HTTP/2 sessions get GOAWAY,
// their held and forwarded streams still finish.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { targetKey, type ActivatorRoute, type SleepingService } from '../../../src/core/activity/route.ts';
import type { Log } from '../../../src/program/log.ts';
import { acceptHttp2, type Http2Front } from '../../http/h2-front.ts';
import { createHopServer, type ClientTimeouts } from '../../http/hop-server.ts';
import { ACTIVATOR_CLIENT_TIMEOUTS } from '../config.ts';
import type { Activator } from './activator.ts';

const RETRY_LISTEN_MS = 2_000;

interface Listener {
  route: ActivatorRoute;
  server: http.Server;
  h2: Http2Front;
  /** Answers not yet finished (held, or being forwarded). */
  active: Set<http.ServerResponse>;
  closing: boolean;
  cancelRetry: (() => void) | undefined;
}

export interface ListeningPort {
  /** The bound port (the system's pick for a route with port 0). */
  port: number;
  target: SleepingService;
}

const listenerKey = (route: ActivatorRoute) => `${route.port} ${targetKey(route.target)}`;

export class ActivatorListeners {
  private readonly open = new Map<string, Listener>();
  private accepting = true;

  constructor(
    private readonly activator: Activator,
    private readonly host: string,
    private readonly log: Log,
    private readonly clientTimeouts: ClientTimeouts = ACTIVATOR_CLIENT_TIMEOUTS,
  ) {}

  /** Listens on exactly the routes' ports; resolves when each new one listens or failed a first time. */
  async apply(routes: readonly ActivatorRoute[]): Promise<void> {
    if (!this.accepting) return;
    const wanted = new Map(routes.map((route) => [listenerKey(route), route]));
    const closed: number[] = [];
    // Closed first: a port can pass from a woken Service to a sleeping one.
    for (const [key, listener] of this.open) {
      if (wanted.has(key)) continue;
      this.close(listener);
      this.open.delete(key);
      closed.push(listener.route.port);
    }
    const created: Listener[] = [];
    for (const [key, route] of wanted) {
      if (this.open.has(key)) continue;
      const listener = this.create(route);
      this.open.set(key, listener);
      created.push(listener);
    }
    await Promise.all(created.map((listener) => this.listen(listener)));
    const opened = created.flatMap(({ server }) => (server.listening ? [(server.address() as AddressInfo).port] : []));
    if (closed.length > 0 || created.length > 0) this.logPorts(opened, closed);
  }

  listening(): ListeningPort[] {
    return [...this.open.values()].flatMap(({ server, route }) =>
      server.listening ? [{ port: (server.address() as AddressInfo).port, target: route.target }] : [],
    );
  }

  /** Shutdown: no port accepts a new connection any more. */
  stopAccepting(): void {
    this.accepting = false;
    for (const listener of this.open.values()) this.close(listener);
    this.open.clear();
  }

  private create(route: ActivatorRoute): Listener {
    const serve = this.activator.serve(route.target);
    const server = createHopServer(this.clientTimeouts, (req, res) => {
      listener.active.add(res);
      res.once('close', () => listener.active.delete(res));
      if (listener.closing) res.shouldKeepAlive = false;
      serve(req, res);
    });
    const h2 = acceptHttp2(server, this.clientTimeouts);
    h2.server.on('request', serve);
    const listener: Listener = { route, server, h2, active: new Set(), closing: false, cancelRetry: undefined };
    server.on('upgrade', h2.upgrades(this.activator.upgrade(route.target)));
    return listener;
  }

  private logPorts(opened: number[], closed: number[]): void {
    this.log('info', 'activator ports', { opened, closed, listening: this.listening().length });
  }

  /** Resolves once listening, or after the first failure (a retry then follows by itself). */
  private listen(listener: Listener, retry = false): Promise<void> {
    const { server, route } = listener;
    return new Promise((resolve) => {
      const onListening = () => {
        server.off('error', onError);
        server.on('error', (error) => this.log('warn', 'activator port failed', { port: route.port, error: error.message }));
        // Its route went away while the port was being opened.
        if (listener.closing) server.close();
        else if (retry) this.logPorts([(server.address() as AddressInfo).port], []);
        resolve();
      };
      const onError = (error: Error) => {
        server.off('listening', onListening);
        this.log('warn', 'activator port unavailable', { port: route.port, target: targetKey(route.target), error: error.message, retryInMs: RETRY_LISTEN_MS });
        if (!listener.closing) listener.cancelRetry = this.activator.clock.setTimeout(() => void this.listen(listener, true), RETRY_LISTEN_MS);
        resolve();
      };
      server.once('listening', onListening);
      server.once('error', onError);
      server.listen(route.port, this.host);
    });
  }

  private close(listener: Listener): void {
    listener.closing = true;
    // The server ends each connection after its answer: the answer must say so.
    for (const res of listener.active) if (!res.headersSent) res.shouldKeepAlive = false;
    listener.cancelRetry?.();
    listener.h2.goAway();
    if (listener.server.listening) listener.server.close();
  }
}
