// The interceptor's settings, read once from the environment the webhook writes into the sidecar.

import type { ClientTimeouts } from '../http/hop-server.ts';

export interface InterceptorConfig {
  listenHost: string;
  listenPort: number;
  appHost: string;
  appPort: number;
  adminPort: number;
  workload: string;
  /** Request paths (without query) that are not activity, e.g. an app's own health endpoint. */
  ignorePaths: ReadonlySet<string>;
  /** User-Agent prefixes that are not activity; kubelet probes (`kube-probe/`) always are ignored. */
  ignoreUserAgents: readonly string[];
  /** How long SIGTERM waits for in-flight requests before closing what is left. */
  drainMs: number;
  /** Slow clients on the proxy port (agent/http/hop-server.ts); default INTERCEPTOR_CLIENT_TIMEOUTS. */
  clientTimeouts?: ClientTimeouts;
}

export const INTERCEPTOR_CLIENT_TIMEOUTS: ClientTimeouts = {
  // A client, or the ingress or mesh proxy in front, sends its request head at once; 10 s allows
  // for a slow link and still frees a slowloris connection soon.
  headersMs: 10_000,
  // Longer than the idle timeouts of what connects to a Service (60 s: ingress-nginx's upstream
  // keepalive, cloud load balancers), so the client closes an idle connection first and never
  // sends a request on one the interceptor is closing.
  keepAliveMs: 65_000,
};

function port(env: NodeJS.ProcessEnv, name: string, fallback?: number): number {
  const text = env[name];
  if (text === undefined || text === '') {
    if (fallback !== undefined) return fallback;
    throw new Error(`${name} is required (a TCP port number)`);
  }
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`${name}=${text} is not a TCP port number (0-65535)`);
  return value;
}

function milliseconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}=${text} is not a whole number of milliseconds ≥ 1`);
  return value;
}

function list(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

export function interceptorConfigFromEnv(env: NodeJS.ProcessEnv): InterceptorConfig {
  const workload = env.EBB_WORKLOAD;
  if (!workload) throw new Error('EBB_WORKLOAD is required (namespace/deployment)');
  const drainSeconds = Number(env.EBB_DRAIN_SECONDS ?? '25');
  if (!Number.isFinite(drainSeconds) || drainSeconds < 0) throw new Error(`EBB_DRAIN_SECONDS=${env.EBB_DRAIN_SECONDS} is not a number of seconds`);
  return {
    listenHost: env.EBB_LISTEN_HOST || '0.0.0.0',
    listenPort: port(env, 'EBB_LISTEN_PORT'),
    appHost: env.EBB_APP_HOST || '127.0.0.1',
    appPort: port(env, 'EBB_APP_PORT'),
    adminPort: port(env, 'EBB_ADMIN_PORT', 18090),
    workload,
    ignorePaths: new Set(list(env.EBB_IGNORE_PATHS)),
    ignoreUserAgents: ['kube-probe/', ...list(env.EBB_IGNORE_USER_AGENTS)],
    drainMs: drainSeconds * 1000,
    clientTimeouts: {
      headersMs: milliseconds(env, 'EBB_HEADERS_TIMEOUT_MS', INTERCEPTOR_CLIENT_TIMEOUTS.headersMs),
      keepAliveMs: milliseconds(env, 'EBB_KEEP_ALIVE_TIMEOUT_MS', INTERCEPTOR_CLIENT_TIMEOUTS.keepAliveMs),
    },
  };
}
