// The controller's settings, from its environment (the Deployment sets them). A bad value stops
// the program at start with a message naming the variable, the value and what is accepted.

import { hostname } from 'node:os';
import { inPortRange, parsePortRange, type PortRange } from '../core/activator-ports.ts';
import { DEFAULT_ACTIVATOR_PORTS } from '../protocol/activator.ts';

export interface ControllerConfig {
  namespace: string;
  identity: string;
  host: string;
  port: number;
  tickMs: number;
  /** How often the leader pulls the agents' usage reports and updates recommendations. */
  usageIntervalMs: number;
  /** The least time between two checkpoint writes of one workload. */
  checkpointIntervalMs: number;
  tokenFile: string;
  /** Fixed agent activity URLs instead of the agent pods (tests, unusual networks). */
  agentUrls?: string[];
  /** Fixed addresses for the activator EndpointSlices instead of the agent pods' IPs. */
  activatorAddresses?: string[];
  /** Where each sleeping Service port gets its own port on the agents (EBB_ACTIVATOR_PORTS). */
  activatorPorts: PortRange;
  agentPort: number;
  webhookCaFile: string;
  webhookConfiguration: string;
  lease: { name: string; durationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
}

export function controllerConfig(env: NodeJS.ProcessEnv): ControllerConfig {
  const list = (name: string) => env[name]?.split(',').map((item) => item.trim()).filter(Boolean);
  const number = (name: string, fallback: number, minimum: number) => {
    const text = env[name];
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < minimum) throw new Error(`${name}=${JSON.stringify(text)} is not accepted: expected a whole number ≥ ${minimum}`);
    return value;
  };
  const durationMs = number('EBB_LEASE_DURATION_MS', 15_000, 1000);
  const renewDeadlineMs = number('EBB_LEASE_RENEW_DEADLINE_MS', 10_000, 500);
  if (renewDeadlineMs >= durationMs) {
    throw new Error(`EBB_LEASE_RENEW_DEADLINE_MS=${renewDeadlineMs} is not accepted: it must be shorter than EBB_LEASE_DURATION_MS=${durationMs}, or two leaders could overlap`);
  }
  const agentPort = number('EBB_AGENT_PORT', 18092, 1);
  return {
    namespace: env.POD_NAMESPACE ?? 'ebb-system',
    identity: env.POD_NAME ?? hostname(),
    host: env.EBB_CONTROLLER_HOST ?? '0.0.0.0',
    port: number('EBB_CONTROLLER_PORT', 18093, 0),
    tickMs: number('EBB_TICK_MS', 2000, 100),
    usageIntervalMs: number('EBB_USAGE_INTERVAL_MS', 10_000, 100),
    checkpointIntervalMs: number('EBB_CHECKPOINT_INTERVAL_MS', 60_000, 0),
    tokenFile: env.EBB_TOKEN_FILE ?? '/var/run/secrets/ebb/token',
    agentUrls: list('EBB_AGENT_URLS'),
    activatorAddresses: list('EBB_ACTIVATOR_ADDRESSES'),
    activatorPorts: activatorPorts(env.EBB_ACTIVATOR_PORTS || DEFAULT_ACTIVATOR_PORTS, agentPort),
    agentPort,
    webhookCaFile: env.EBB_WEBHOOK_CA_FILE ?? '/etc/ebb/tls/ca.crt',
    webhookConfiguration: env.EBB_WEBHOOK_CONFIGURATION ?? 'ebb',
    lease: { name: env.EBB_LEASE_NAME ?? 'ebb-controller', durationMs, renewDeadlineMs, retryPeriodMs: number('EBB_LEASE_RETRY_PERIOD_MS', 2000, 100) },
  };
}

/** The agents listen on these ports besides their own: the range must leave the agent's port out. */
function activatorPorts(text: string, agentPort: number): PortRange {
  const range = parsePortRange(text);
  if (!range.ok) throw new Error(`EBB_ACTIVATOR_PORTS=${JSON.stringify(text)} is not accepted: ${range.error}`);
  if (inPortRange(range.value, agentPort)) throw new Error(`EBB_ACTIVATOR_PORTS=${JSON.stringify(text)} is not accepted: it holds the agents' own port ${agentPort} (EBB_AGENT_PORT)`);
  return range.value;
}
