// The agent's settings, from the DaemonSet's environment. Each STATIC_* variable replaces one
// cluster dependency for process-level tests; without them the agent uses the API server
// (in-cluster config, or KUBECONFIG when set).

import { DEFAULT_HOLD_LIMITS, type HoldLimits } from '../../src/core/activity/hold-ledger.ts';
import { DEFAULT_AGENT_PORT } from '../../src/protocol/activator.ts';
import { CONTROLLER_IDENTITY, EBB_AUDIENCE } from '../../src/protocol/auth.ts';
import type { ClientTimeouts } from '../http/hop-server.ts';

export interface AgentConfig {
  nodeName: string;
  listenHost: string;
  /** Serves GET /activity to the controller (authenticated) and /healthz. */
  port: number;
  /**
   * Where the activator listens: on this address, one port per sleeping Service port (the ports on
   * the activator EndpointSlices). Several agents on one host (the sandbox) need one address each.
   */
  activatorHost: string;
  /** On SIGTERM, how long held requests still wait for a backend before a 503 with Retry-After. */
  drainMs: number;
  /** Slow clients on the activator ports (agent/http/hop-server.ts). */
  activatorTimeouts: ClientTimeouts;
  scrapeIntervalMs: number;
  scrapeTimeoutMs: number;
  windowMs: number;
  hold: HoldLimits;
  /** Base URL of the controller's wake endpoint; unset: no wake calls. */
  controllerUrl: string | undefined;
  tokenFile: string;
  audience: string;
  allowedIdentity: string;
  /** `host:port,…` admin addresses to scrape instead of watching pods. */
  staticTargets: string | undefined;
  /** `ns/app=host:port[@activatorPort],…` sleeping workloads, their backends and activator ports instead of the API server's. */
  staticBackends: string | undefined;
  /** `token=username,…` instead of TokenReview. */
  staticTokens: string | undefined;
  kubelet: KubeletUsageConfig;
}

/** Reading this node's kubelet /metrics/resource for GET /usage. */
export interface KubeletUsageConfig {
  intervalMs: number;
  timeoutMs: number;
  /** A service-account token the API server accepts (the kubelet checks it with a TokenReview): not the ebb.dev one. */
  tokenFile: string;
  /** The CA that signed the kubelet's serving certificate. */
  caFile: string;
  /** Do not verify the kubelet's certificate. Insecure: for kubelets with self-signed certificates only. */
  insecureTls: boolean;
}

export const ACTIVATOR_CLIENT_TIMEOUTS: ClientTimeouts = {
  // kube-proxy hands the client's own connection over, and a client sends its request head at
  // once. The head only: a held request has arrived and waits for its answer up to the hold
  // deadline (hold.deadlineMs), which no timeout of the connection cuts.
  headersMs: 10_000,
  // Longer than the idle timeouts of what connects to a Service (60 s: ingress-nginx's upstream
  // keepalive, cloud load balancers), so the client closes an idle connection first.
  keepAliveMs: 65_000,
};

function numberFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${text} is not a non-negative number`);
  return value;
}

function flagFrom(env: NodeJS.ProcessEnv, name: string): boolean {
  const text = env[name];
  if (text === undefined || text === '' || text === 'false') return false;
  if (text === 'true') return true;
  throw new Error(`${name}=${text} is not true or false`);
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export function agentConfigFromEnv(env: NodeJS.ProcessEnv): AgentConfig {
  const staticTargets = env.EBB_STATIC_TARGETS;
  const nodeName = env.NODE_NAME ?? (staticTargets !== undefined ? 'static' : undefined);
  if (!nodeName) throw new Error('NODE_NAME is required (set it from the downward API: spec.nodeName)');
  return {
    nodeName,
    listenHost: env.EBB_LISTEN_HOST || '0.0.0.0',
    port: numberFrom(env, 'EBB_AGENT_PORT', DEFAULT_AGENT_PORT),
    activatorHost: env.EBB_ACTIVATOR_HOST || env.EBB_LISTEN_HOST || '0.0.0.0',
    // Below the DaemonSet's terminationGracePeriodSeconds (30 s), with room for the answers being
    // forwarded when it ends (5 s, activator.ts).
    drainMs: numberFrom(env, 'EBB_ACTIVATOR_DRAIN_MS', 20_000),
    activatorTimeouts: {
      headersMs: numberFrom(env, 'EBB_ACTIVATOR_HEADERS_TIMEOUT_MS', ACTIVATOR_CLIENT_TIMEOUTS.headersMs),
      keepAliveMs: numberFrom(env, 'EBB_ACTIVATOR_KEEP_ALIVE_TIMEOUT_MS', ACTIVATOR_CLIENT_TIMEOUTS.keepAliveMs),
    },
    scrapeIntervalMs: numberFrom(env, 'EBB_SCRAPE_INTERVAL_MS', 1_000),
    scrapeTimeoutMs: numberFrom(env, 'EBB_SCRAPE_TIMEOUT_MS', 800),
    windowMs: numberFrom(env, 'EBB_WINDOW_MS', 10_000),
    hold: {
      maxRequestsPerWorkload: numberFrom(env, 'EBB_HOLD_MAX_REQUESTS_PER_WORKLOAD', DEFAULT_HOLD_LIMITS.maxRequestsPerWorkload),
      maxBytesPerWorkload: numberFrom(env, 'EBB_HOLD_MAX_BYTES_PER_WORKLOAD', DEFAULT_HOLD_LIMITS.maxBytesPerWorkload),
      maxRequests: numberFrom(env, 'EBB_HOLD_MAX_REQUESTS', DEFAULT_HOLD_LIMITS.maxRequests),
      maxBytes: numberFrom(env, 'EBB_HOLD_MAX_BYTES', DEFAULT_HOLD_LIMITS.maxBytes),
      deadlineMs: numberFrom(env, 'EBB_HOLD_DEADLINE_MS', DEFAULT_HOLD_LIMITS.deadlineMs),
    },
    controllerUrl: env.EBB_CONTROLLER_URL || undefined,
    tokenFile: env.EBB_TOKEN_FILE || '/var/run/secrets/ebb/token',
    audience: env.EBB_AUDIENCE || EBB_AUDIENCE,
    allowedIdentity: env.EBB_ALLOWED_IDENTITY || CONTROLLER_IDENTITY,
    staticTargets,
    staticBackends: env.EBB_STATIC_BACKENDS,
    staticTokens: env.EBB_STATIC_TOKENS,
    kubelet: {
      // The kubelet refreshes its figures every 10-15 s: reading faster adds no samples.
      intervalMs: numberFrom(env, 'EBB_USAGE_INTERVAL_MS', 10_000),
      timeoutMs: numberFrom(env, 'EBB_USAGE_TIMEOUT_MS', 5_000),
      tokenFile: env.EBB_KUBELET_TOKEN_FILE || `${SERVICE_ACCOUNT_DIR}/token`,
      caFile: env.EBB_KUBELET_CA_FILE || `${SERVICE_ACCOUNT_DIR}/ca.crt`,
      insecureTls: flagFrom(env, 'EBB_KUBELET_INSECURE_TLS'),
    },
  };
}
