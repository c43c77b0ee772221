// The interceptor's settings, read once from the environment the webhook writes into the sidecar.

import { fail, ok, type Result } from '../../src/core/result.ts';
import { list, listenPort, numberBetween, readEnvironment, required, text, variable, wholeNumber } from '../../src/program/environment.ts';
import { DEFAULT_ADMIN_PORT, SIDECAR_ENV } from '../../src/protocol/sidecar.ts';
import { parseWorkloadKey, type WorkloadKey } from '../../src/protocol/workload.ts';
import type { ClientTimeouts } from '../http/hop-server.ts';

export interface InterceptorConfig {
  listenHost: string;
  listenPort: number;
  appHost: string;
  appPort: number;
  adminPort: number;
  workload: WorkloadKey;
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

const workloadKey = (value: string): Result<WorkloadKey> => {
  const key = parseWorkloadKey(value);
  return key ? ok(key) : fail(`${JSON.stringify(value)} is not accepted: expected namespace/deployment`);
};
const milliseconds = wholeNumber(1);

/** Every variable the interceptor reads: the webhook writes them into the sidecar. */
export const INTERCEPTOR_ENVIRONMENT = {
  listenHost: variable('EBB_LISTEN_HOST', text, '0.0.0.0'),
  listenPort: required(SIDECAR_ENV.listenPort, listenPort),
  appHost: variable('EBB_APP_HOST', text, '127.0.0.1'),
  appPort: required(SIDECAR_ENV.appPort, listenPort),
  adminPort: variable(SIDECAR_ENV.adminPort, listenPort, DEFAULT_ADMIN_PORT),
  workload: required(SIDECAR_ENV.workload, workloadKey),
  ignorePaths: variable('EBB_IGNORE_PATHS', list, []),
  ignoreUserAgents: variable('EBB_IGNORE_USER_AGENTS', list, []),
  drainSeconds: variable('EBB_DRAIN_SECONDS', numberBetween(0), 25),
  headersMs: variable('EBB_HEADERS_TIMEOUT_MS', milliseconds, INTERCEPTOR_CLIENT_TIMEOUTS.headersMs),
  keepAliveMs: variable('EBB_KEEP_ALIVE_TIMEOUT_MS', milliseconds, INTERCEPTOR_CLIENT_TIMEOUTS.keepAliveMs),
};

export function interceptorConfigFromEnv(env: NodeJS.ProcessEnv): InterceptorConfig {
  const values = readEnvironment(INTERCEPTOR_ENVIRONMENT, env);
  return {
    listenHost: values.listenHost,
    listenPort: values.listenPort,
    appHost: values.appHost,
    appPort: values.appPort,
    adminPort: values.adminPort,
    workload: values.workload,
    ignorePaths: new Set(values.ignorePaths),
    ignoreUserAgents: ['kube-probe/', ...values.ignoreUserAgents],
    drainMs: values.drainSeconds * 1000,
    clientTimeouts: { headersMs: values.headersMs, keepAliveMs: values.keepAliveMs },
  };
}
