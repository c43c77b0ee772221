// `kubectl ebb explain deploy/NAME`: every setting and where it came from, resolved by the same
// core the webhook and the controller use; invalid values with what is accepted; ebb's recent
// Events about the Deployment and its pods; and what waits (the status annotation's pending lines).
import type { CoreV1Event } from '@kubernetes/client-node';
import { STATUS_ANNOTATION } from '../../core/annotations.ts';
import { invalidValues, recentDecisions, settingLines, type EventFacts, type InvalidValue, type SettingLine } from '../../core/report/explain.ts';
import { pendingLines, workloadStatus } from '../../core/report/workload-status.ts';
import { readStatus } from '../../core/status.ts';
import { resolveDeployment } from '../../core/workload-settings.ts';
import type { CommonOptions } from './args.ts';
import { CliError, objectInfo, read, readOptional, readPolicy, requireEbb, type Cluster } from './cluster.ts';
import { age, structured, table } from './output.ts';

/** How many Events the explanation lists. */
const DECISIONS_SHOWN = 10;

export interface Explanation {
  deployment: string;
  optedIn: boolean;
  /** Why it is (or is not) opted in. */
  optInReason: string;
  policy: string;
  settings: SettingLine[];
  invalid: InvalidValue[];
  /** The controller's current decision, from the status annotation; null before its first. */
  current: { reason: string; message: string; updatedAt: string | null; traffic: string | null } | null;
  decisions: EventFacts[];
  pending: string[];
}

export async function explain(cluster: Cluster, name: string, namespace: string): Promise<Explanation> {
  await requireEbb(cluster);
  const key = `${namespace}/${name}`;
  const [deployment, ns, policy, events] = await Promise.all([
    readOptional(cluster, `Deployment ${key}`, () => cluster.apps.readNamespacedDeployment({ name, namespace })),
    readOptional(cluster, `Namespace ${namespace}`, () => cluster.core.readNamespace({ name: namespace })),
    readPolicy(cluster),
    read(cluster, `Events in namespace ${namespace}`, () => cluster.core.listNamespacedEvent({ namespace })),
  ]);
  if (!deployment || !ns) {
    throw new CliError(
      `Deployment ${name} not found in namespace ${namespace}: kubectl -n ${namespace} get deployments lists them (pass -n for another namespace)`,
    );
  }
  const { optIn, resolution } = resolveDeployment(deployment, objectInfo(ns), policy.policy, cluster.ebbNamespace);
  const status = readStatus(deployment.metadata?.annotations?.[STATUS_ANNOTATION]);
  const workload =
    resolution &&
    workloadStatus({
      namespace,
      name,
      resize: resolution.settings.resize,
      replicas: { spec: deployment.spec?.replicas ?? 1, actual: deployment.status?.replicas ?? 0, ready: deployment.status?.readyReplicas ?? 0 },
      status,
      containers: [],
      defaultRequests: policy.policy.defaultRequests,
    });
  return {
    deployment: key,
    optedIn: optIn.inject,
    optInReason: optIn.reason,
    policy: policy.source,
    settings: settingLines(optIn, resolution),
    invalid: invalidValues([...policy.errors, ...(resolution?.errors ?? [])]),
    current:
      status?.reason !== undefined
        ? { reason: status.reason, message: status.message ?? '', updatedAt: status.updatedAt ?? null, traffic: status.traffic ?? null }
        : null,
    decisions: recentDecisions(events.items.filter((event) => isAbout(event, name)).map(eventFacts), DECISIONS_SHOWN),
    pending: workload ? pendingLines(workload) : [],
  };
}

/** ebb's Events on the Deployment, and on its pods (named `<deployment>-<hash>-<suffix>`: Resized is written on the pod). */
function isAbout(event: CoreV1Event, deployment: string): boolean {
  const component = event.reportingComponent || event.source?.component || '';
  if (!component.startsWith('ebb')) return false;
  const { kind, name = '' } = event.involvedObject;
  return (kind === 'Deployment' && name === deployment) || (kind === 'Pod' && name.startsWith(`${deployment}-`));
}

function eventFacts(event: CoreV1Event): EventFacts {
  const at = event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp ?? event.metadata.creationTimestamp;
  return {
    at: at ? new Date(at).toISOString() : '',
    type: event.type ?? '',
    reason: event.reason ?? '',
    object: `${event.involvedObject.kind} ${event.involvedObject.name}`,
    message: event.message ?? '',
    count: event.count ?? 1,
  };
}

export function renderExplanation(explanation: Explanation, now: number): string {
  const out: string[] = [];
  out.push(`Deployment ${explanation.deployment}: ${explanation.optedIn ? 'opted in' : 'not opted in'} (${explanation.optInReason})\n`);
  out.push(`Policy: ${explanation.policy}\n\n`);
  out.push(
    table(
      ['SETTING', 'VALUE', 'FROM'],
      explanation.settings.map((line) => [line.setting, line.value, line.source]),
    ),
  );
  if (explanation.invalid.length > 0) {
    out.push("\nNot accepted (the next level's value applies instead):\n");
    for (const invalid of explanation.invalid) out.push(`  ✘ ${invalid.message}\n`);
  }
  if (explanation.optedIn) {
    const current = explanation.current;
    out.push(
      current
        ? `\nNow: ${current.message} (reason ${current.reason}, written ${age(current.updatedAt, now)} ago)\nTraffic: ${current.traffic ?? 'not reported yet'}\n`
        : '\nNow: no decision yet (the controller writes ebb.dev/status on its first round for the workload)\n',
    );
  }
  out.push('\nRecent decisions:\n');
  out.push(
    explanation.decisions.length === 0
      ? '  none (no Events from ebb about this Deployment or its pods; Events expire after an hour by default)\n'
      : table(
          ['AGE', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE'],
          explanation.decisions.map((event) => [
            age(event.at, now),
            event.type,
            event.reason,
            event.object,
            event.count > 1 ? `${event.message} (×${event.count})` : event.message,
          ]),
        ).replace(/^(?=.)/gm, '  '),
  );
  out.push('\nPending:\n');
  out.push(explanation.pending.length === 0 ? '  nothing\n' : explanation.pending.map((line) => `  ${line}\n`).join(''));
  return out.join('');
}

export async function runExplain(cluster: Cluster, name: string, options: CommonOptions, now: number): Promise<string> {
  const explanation = await explain(cluster, name, options.namespace ?? cluster.defaultNamespace);
  return structured(options.output, explanation) ?? renderExplanation(explanation, now);
}
