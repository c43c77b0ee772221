// The controller's settings, from its environment (the Deployment sets them). A bad value stops
// the program at start with a message naming the variable, the value and what is accepted.

import { hostname } from 'node:os';
import { formatPortRange, inPortRange, parsePortRange, type PortRange } from '../core/activator-ports.ts';
import { DEFAULT_TUNING, TUNING_RANGES, tuningProblems, type DeciderTuning, type TuningRange } from '../core/decider/index.ts';
import { formatDuration } from '../core/duration.ts';
import { DEFAULT_EBB_NAMESPACE } from '../core/opt-in.ts';
import {
  durationAtLeast,
  environmentProblem,
  list,
  listenPort,
  numberBetween,
  oneOf,
  optional,
  port,
  readEnvironment,
  text,
  variable,
  wholeNumber,
} from '../program/environment.ts';
import { DEFAULT_ACTIVATOR_PORTS, DEFAULT_AGENT_PORT } from '../protocol/activator.ts';
import { CERTIFICATE_MODES, type CertificateSettings } from './webhook-certificates.ts';

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
  /** The webhook's certificates and caBundle (webhook-certificates.ts). */
  certificates: CertificateSettings;
  lease: { name: string; durationMs: number; renewDeadlineMs: number; retryPeriodMs: number };
  /** The decider's windows and rates. */
  tuning: DeciderTuning;
}

const inRange = (range: TuningRange) => (range.whole ? wholeNumber(range.min, range.max) : numberBetween(range.min, range.max));

/** The decider's tuning, one variable per field, each with its default and range (core/decider/tuning.ts). */
const TUNING_ENVIRONMENT = {
  stableWindowMs: variable('EBB_STABLE_WINDOW_MS', inRange(TUNING_RANGES.stableWindowMs), DEFAULT_TUNING.stableWindowMs),
  panicWindowMs: variable('EBB_PANIC_WINDOW_MS', inRange(TUNING_RANGES.panicWindowMs), DEFAULT_TUNING.panicWindowMs),
  panicThreshold: variable('EBB_PANIC_THRESHOLD', inRange(TUNING_RANGES.panicThreshold), DEFAULT_TUNING.panicThreshold),
  maxScaleUpRate: variable('EBB_MAX_SCALE_UP_RATE', inRange(TUNING_RANGES.maxScaleUpRate), DEFAULT_TUNING.maxScaleUpRate),
  maxScaleDownRate: variable('EBB_MAX_SCALE_DOWN_RATE', inRange(TUNING_RANGES.maxScaleDownRate), DEFAULT_TUNING.maxScaleDownRate),
  staleAfterMs: variable('EBB_STALE_AFTER_MS', inRange(TUNING_RANGES.staleAfterMs), DEFAULT_TUNING.staleAfterMs),
};

/** The webhook's Service (manifests/webhook/service.yaml): its serving certificate is for this name. */
const WEBHOOK_SERVICE = 'ebb-webhook';
const HOUR_MS = 3_600_000;
/**
 * A year: the usual life of a webhook's serving certificate. It is renewed with a third left
 * (four months), time enough for a failing renewal to be noticed (`kubectl ebb check` warns 14
 * days before expiry).
 */
const SERVING_VALIDITY_MS = 8760 * HOUR_MS;
/**
 * Ten years: the CA's key never leaves the cluster, and a CA renewal is the one step that needs
 * two CAs trusted at once, so it should be rare. Renewed with a third left, as the serving one.
 */
const CA_VALIDITY_MS = 10 * SERVING_VALIDITY_MS;

/** Every variable the controller reads. */
export const CONTROLLER_ENVIRONMENT = {
  namespace: variable('POD_NAMESPACE', text, DEFAULT_EBB_NAMESPACE),
  identity: variable('POD_NAME', text, hostname()),
  host: variable('EBB_CONTROLLER_HOST', text, '0.0.0.0'),
  port: variable('EBB_CONTROLLER_PORT', listenPort, 18093),
  tickMs: variable('EBB_TICK_MS', wholeNumber(100), 2000),
  usageIntervalMs: variable('EBB_USAGE_INTERVAL_MS', wholeNumber(100), 10_000),
  checkpointIntervalMs: variable('EBB_CHECKPOINT_INTERVAL_MS', wholeNumber(0), 60_000),
  tokenFile: variable('EBB_TOKEN_FILE', text, '/var/run/secrets/ebb/token'),
  agentUrls: optional('EBB_AGENT_URLS', list),
  activatorAddresses: optional('EBB_ACTIVATOR_ADDRESSES', list),
  activatorPorts: variable('EBB_ACTIVATOR_PORTS', parsePortRange, DEFAULT_ACTIVATOR_PORTS),
  agentPort: variable('EBB_AGENT_PORT', port, DEFAULT_AGENT_PORT),
  // external, not self-managed, when unset: a controller run outside the manifests (the local
  // sandbox, the tests) is handed its certificates as files; the manifests set self-managed.
  certificateMode: variable('EBB_WEBHOOK_CERTIFICATES', oneOf(...CERTIFICATE_MODES), 'external'),
  webhookCaFile: variable('EBB_WEBHOOK_CA_FILE', text, '/etc/ebb/tls/ca.crt'),
  servingValidityMs: variable('EBB_WEBHOOK_SERVING_VALIDITY', durationAtLeast(10_000, '10s'), SERVING_VALIDITY_MS),
  caValidityMs: variable('EBB_WEBHOOK_CA_VALIDITY', durationAtLeast(30_000, '30s'), CA_VALIDITY_MS),
  webhookConfiguration: variable('EBB_WEBHOOK_CONFIGURATION', text, 'ebb'),
  leaseName: variable('EBB_LEASE_NAME', text, 'ebb-controller'),
  leaseDurationMs: variable('EBB_LEASE_DURATION_MS', wholeNumber(1000), 15_000),
  leaseRenewDeadlineMs: variable('EBB_LEASE_RENEW_DEADLINE_MS', wholeNumber(500), 10_000),
  leaseRetryPeriodMs: variable('EBB_LEASE_RETRY_PERIOD_MS', wholeNumber(100), 2000),
  ...TUNING_ENVIRONMENT,
};

export function controllerConfig(env: NodeJS.ProcessEnv): ControllerConfig {
  const values = readEnvironment(CONTROLLER_ENVIRONMENT, env);
  const { leaseDurationMs: durationMs, leaseRenewDeadlineMs: renewDeadlineMs, leaseRetryPeriodMs: retryPeriodMs } = values;
  if (renewDeadlineMs >= durationMs) {
    throw environmentProblem(
      'EBB_LEASE_RENEW_DEADLINE_MS',
      String(renewDeadlineMs),
      `it must be shorter than EBB_LEASE_DURATION_MS=${durationMs}, or two leaders could overlap`,
    );
  }
  if (retryPeriodMs >= renewDeadlineMs) {
    throw environmentProblem(
      'EBB_LEASE_RETRY_PERIOD_MS',
      String(retryPeriodMs),
      `it must be shorter than EBB_LEASE_RENEW_DEADLINE_MS=${renewDeadlineMs}, or the leader could not try to renew before its deadline`,
    );
  }
  // The CA outlives every serving certificate it signs: it is renewed with a third of its life
  // left, and a serving certificate lives a third of the CA's at most.
  if (values.caValidityMs < 3 * values.servingValidityMs) {
    throw environmentProblem(
      'EBB_WEBHOOK_CA_VALIDITY',
      formatDuration(values.caValidityMs),
      `it must be at least three times EBB_WEBHOOK_SERVING_VALIDITY=${formatDuration(values.servingValidityMs)}`,
    );
  }
  const tuning: DeciderTuning = {
    stableWindowMs: values.stableWindowMs,
    panicWindowMs: values.panicWindowMs,
    panicThreshold: values.panicThreshold,
    maxScaleUpRate: values.maxScaleUpRate,
    maxScaleDownRate: values.maxScaleDownRate,
    staleAfterMs: values.staleAfterMs,
  };
  const [broken] = tuningProblems(tuning);
  if (broken) throw environmentProblem(TUNING_ENVIRONMENT[broken.field].name, String(tuning[broken.field]), broken.problem);
  // The agents listen on these ports besides their own: the range must leave the agent's port out.
  if (inPortRange(values.activatorPorts, values.agentPort)) {
    throw environmentProblem(
      'EBB_ACTIVATOR_PORTS',
      formatPortRange(values.activatorPorts),
      `it holds the agents' own port ${values.agentPort} (EBB_AGENT_PORT)`,
    );
  }
  return {
    namespace: values.namespace,
    identity: values.identity,
    host: values.host,
    port: values.port,
    tickMs: values.tickMs,
    usageIntervalMs: values.usageIntervalMs,
    checkpointIntervalMs: values.checkpointIntervalMs,
    tokenFile: values.tokenFile,
    agentUrls: values.agentUrls,
    activatorAddresses: values.activatorAddresses,
    activatorPorts: values.activatorPorts,
    agentPort: values.agentPort,
    certificates: {
      mode: values.certificateMode,
      webhookCaFile: values.webhookCaFile,
      webhookConfiguration: values.webhookConfiguration,
      namespace: values.namespace,
      webhookService: WEBHOOK_SERVICE,
      servingValidityMs: values.servingValidityMs,
      caValidityMs: values.caValidityMs,
    },
    lease: { name: values.leaseName, durationMs, renewDeadlineMs, retryPeriodMs },
    tuning,
  };
}
