// The agent's settings, from the DaemonSet's environment. Each STATIC_* variable replaces one
// cluster dependency for process-level tests; without them the agent uses the API server
// (in-cluster config, or KUBECONFIG when set). `none` is a static list with nothing in it: an
// empty variable is unset, as in every program.

import { DEFAULT_HOLD_LIMITS, type HoldLimits } from '../../src/core/activity/hold-ledger.ts';
import { DEFAULT_AGENT_PORT } from '../../src/protocol/activator.ts';
import { DEFAULT_EBB_NAMESPACE } from '../../src/core/opt-in.ts';
import { CONTROLLER_ACCOUNT, EBB_AUDIENCE, serviceAccountIdentity } from '../../src/protocol/auth.ts';
import { ok } from '../../src/core/result.ts';
import { EnvironmentError, flag, listenPort, optional, readEnvironment, text, variable, wholeNumber } from '../../src/program/environment.ts';
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

/** A static stand-in's list: comma-separated entries, or `none`. */
const staticList = (value: string) => ok(value.trim() === 'none' ? '' : value);

export const ACTIVATOR_CLIENT_TIMEOUTS: ClientTimeouts = {
  // kube-proxy hands the client's own connection over, and a client sends its request head at
  // once. The head only: a held request has arrived and waits for its answer up to the hold
  // deadline (hold.deadlineMs), which no timeout of the connection cuts.
  headersMs: 10_000,
  // Longer than the idle timeouts of what connects to a Service (60 s: ingress-nginx's upstream
  // keepalive, cloud load balancers), so the client closes an idle connection first.
  keepAliveMs: 65_000,
};

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const milliseconds = wholeNumber(0);

/** Every variable the agent reads. */
export const AGENT_ENVIRONMENT = {
  nodeName: optional('NODE_NAME', text),
  namespace: variable('POD_NAMESPACE', text, DEFAULT_EBB_NAMESPACE),
  listenHost: variable('EBB_LISTEN_HOST', text, '0.0.0.0'),
  port: variable('EBB_AGENT_PORT', listenPort, DEFAULT_AGENT_PORT),
  activatorHost: optional('EBB_ACTIVATOR_HOST', text),
  // Below the DaemonSet's terminationGracePeriodSeconds (30 s), with room for the answers being
  // forwarded when it ends (5 s, activator.ts).
  drainMs: variable('EBB_ACTIVATOR_DRAIN_MS', milliseconds, 20_000),
  activatorHeadersMs: variable('EBB_ACTIVATOR_HEADERS_TIMEOUT_MS', milliseconds, ACTIVATOR_CLIENT_TIMEOUTS.headersMs),
  activatorKeepAliveMs: variable('EBB_ACTIVATOR_KEEP_ALIVE_TIMEOUT_MS', milliseconds, ACTIVATOR_CLIENT_TIMEOUTS.keepAliveMs),
  scrapeIntervalMs: variable('EBB_SCRAPE_INTERVAL_MS', milliseconds, 1_000),
  scrapeTimeoutMs: variable('EBB_SCRAPE_TIMEOUT_MS', milliseconds, 800),
  windowMs: variable('EBB_WINDOW_MS', milliseconds, 10_000),
  maxRequestsPerWorkload: variable('EBB_HOLD_MAX_REQUESTS_PER_WORKLOAD', wholeNumber(0), DEFAULT_HOLD_LIMITS.maxRequestsPerWorkload),
  maxBytesPerWorkload: variable('EBB_HOLD_MAX_BYTES_PER_WORKLOAD', wholeNumber(0), DEFAULT_HOLD_LIMITS.maxBytesPerWorkload),
  maxRequests: variable('EBB_HOLD_MAX_REQUESTS', wholeNumber(0), DEFAULT_HOLD_LIMITS.maxRequests),
  maxBytes: variable('EBB_HOLD_MAX_BYTES', wholeNumber(0), DEFAULT_HOLD_LIMITS.maxBytes),
  deadlineMs: variable('EBB_HOLD_DEADLINE_MS', milliseconds, DEFAULT_HOLD_LIMITS.deadlineMs),
  controllerUrl: optional('EBB_CONTROLLER_URL', text),
  tokenFile: variable('EBB_TOKEN_FILE', text, '/var/run/secrets/ebb/token'),
  audience: variable('EBB_AUDIENCE', text, EBB_AUDIENCE),
  allowedIdentity: optional('EBB_ALLOWED_IDENTITY', text),
  staticTargets: optional('EBB_STATIC_TARGETS', staticList),
  staticBackends: optional('EBB_STATIC_BACKENDS', staticList),
  staticTokens: optional('EBB_STATIC_TOKENS', staticList),
  // The kubelet refreshes its figures every 10-15 s: reading faster adds no samples.
  usageIntervalMs: variable('EBB_USAGE_INTERVAL_MS', milliseconds, 10_000),
  usageTimeoutMs: variable('EBB_USAGE_TIMEOUT_MS', milliseconds, 5_000),
  kubeletTokenFile: variable('EBB_KUBELET_TOKEN_FILE', text, `${SERVICE_ACCOUNT_DIR}/token`),
  kubeletCaFile: variable('EBB_KUBELET_CA_FILE', text, `${SERVICE_ACCOUNT_DIR}/ca.crt`),
  kubeletInsecureTls: variable('EBB_KUBELET_INSECURE_TLS', flag, false),
};

export function agentConfigFromEnv(env: NodeJS.ProcessEnv): AgentConfig {
  const values = readEnvironment(AGENT_ENVIRONMENT, env);
  const nodeName = values.nodeName ?? (values.staticTargets !== undefined ? 'static' : undefined);
  if (nodeName === undefined) throw new EnvironmentError(['NODE_NAME is required (set it from the downward API: spec.nodeName)']);
  return {
    nodeName,
    listenHost: values.listenHost,
    port: values.port,
    activatorHost: values.activatorHost ?? values.listenHost,
    drainMs: values.drainMs,
    activatorTimeouts: { headersMs: values.activatorHeadersMs, keepAliveMs: values.activatorKeepAliveMs },
    scrapeIntervalMs: values.scrapeIntervalMs,
    scrapeTimeoutMs: values.scrapeTimeoutMs,
    windowMs: values.windowMs,
    hold: {
      maxRequestsPerWorkload: values.maxRequestsPerWorkload,
      maxBytesPerWorkload: values.maxBytesPerWorkload,
      maxRequests: values.maxRequests,
      maxBytes: values.maxBytes,
      deadlineMs: values.deadlineMs,
    },
    controllerUrl: values.controllerUrl,
    tokenFile: values.tokenFile,
    audience: values.audience,
    // Only ebb's controller, from the namespace the agent runs in.
    allowedIdentity: values.allowedIdentity ?? serviceAccountIdentity(values.namespace, CONTROLLER_ACCOUNT),
    staticTargets: values.staticTargets,
    staticBackends: values.staticBackends,
    staticTokens: values.staticTokens,
    kubelet: {
      intervalMs: values.usageIntervalMs,
      timeoutMs: values.usageTimeoutMs,
      tokenFile: values.kubeletTokenFile,
      caFile: values.kubeletCaFile,
      insecureTls: values.kubeletInsecureTls,
    },
  };
}
