// Wires the interceptor: the proxy on the listen port, the admin server on the admin port, and the
// drain that SIGTERM starts.

import http from 'node:http';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import net from 'node:net';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { acceptHttp2 } from '../http/h2-front.ts';
import { createHopServer } from '../http/hop-server.ts';
import { InterceptorActivity } from './activity.ts';
import { createAdminServer } from './admin.ts';
import { AppReadiness } from './app-readiness.ts';
import { INTERCEPTOR_CLIENT_TIMEOUTS, type InterceptorConfig } from './config.ts';
import { createProxy } from './proxy.ts';

export interface RunningInterceptor {
  listenPort: number;
  adminPort: number;
  activity: InterceptorActivity;
  /** Stops accepting, lets in-flight requests finish (up to the drain time), then closes all. */
  drain(): Promise<void>;
}

/** Once nothing is in flight, connections idle this long are closed without waiting further. */
const DRAIN_QUIET_MS = 1_000;

export async function startInterceptor(config: InterceptorConfig): Promise<RunningInterceptor> {
  const activity = new InterceptorActivity(config.workload, config);
  const appReadiness = new AppReadiness(config.appHost, config.appPort);
  let draining = false;
  const isDraining = () => draining;
  const proxy = createProxy({ appHost: config.appHost, appPort: config.appPort, activity, isDraining });

  // Every request, HTTP/2 stream and upgraded socket, counted or not (probes too), so the drain waits for all.
  let active = 0;
  const upgraded = new Set<Duplex>();
  const clientTimeouts = config.clientTimeouts ?? INTERCEPTOR_CLIENT_TIMEOUTS;
  const server = createHopServer(clientTimeouts, (req, res) => {
    active += 1;
    res.once('close', () => (active -= 1));
    proxy.onRequest(req, res);
  });
  const h2 = acceptHttp2(server, clientTimeouts);
  h2.server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
    active += 1;
    stream.once('close', () => (active -= 1));
    proxy.onStream(stream, headers, flags, rawHeaders);
  });
  server.on(
    'upgrade',
    h2.upgrades((req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      upgraded.add(socket);
      socket.once('close', () => upgraded.delete(socket));
      proxy.onUpgrade(req, socket, head);
    }),
  );
  const admin = createAdminServer(activity, appReadiness, isDraining);

  server.listen(config.listenPort, config.listenHost);
  admin.listen(config.adminPort, config.listenHost);
  await Promise.all([once(server, 'listening'), once(admin, 'listening')]);

  const drain = async (): Promise<void> => {
    if (draining) return;
    draining = true;
    // net.Server's close only stops the listener. http.Server#close (Node ≥ 19) would also drop
    // idle keep-alive connections at once, racing a client that is sending its next request on
    // one; instead each connection is closed after its next response (Connection: close). An
    // HTTP/2 session gets GOAWAY: its open streams may finish, and its client opens no new one.
    net.Server.prototype.close.call(server);
    h2.goAway();
    const deadline = performance.now() + config.drainMs;
    let quietSince: number | undefined;
    while (performance.now() < deadline) {
      if (active === 0 && upgraded.size === 0) {
        const connections = await new Promise<number>((resolve) => server.getConnections((_error, count) => resolve(count)));
        if (connections === 0) break;
        quietSince ??= performance.now();
        if (performance.now() - quietSince >= DRAIN_QUIET_MS) break;
      } else {
        quietSince = undefined;
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    server.closeAllConnections();
    h2.destroy();
    for (const socket of upgraded) socket.destroy();
    proxy.close();
    admin.closeAllConnections();
    await new Promise((resolve) => admin.close(resolve));
  };

  const address = (s: http.Server) => (s.address() as net.AddressInfo).port;
  return { listenPort: address(server), adminPort: address(admin), activity, drain };
}
