// The demo's over-requesting workload: Deployment demo/greedy asks for 1 CPU and 1Gi and uses about
// 50m and 60Mi (KWOK's usage, GREEDY_USAGE); in resize mode `in-place` ebb brings the running
// pod's requests down to the recommendation. A new workload's recommendation only raises requests
// until sizing.decreaseAfter of history (1h by default); the sandbox's policy makes that a minute,
// so the demo shows the decrease within a minute or two. A line `greedy …` says what the pod
// requests (before → after, and whether the node applied it), what ebb recommends, and the Resized
// Event (or what waits), each time that changes.

import type { AppsV1Api, CoreV1Api, V1Container, V1Pod } from '@kubernetes/client-node';
import { STATUS_ANNOTATION } from '../../core/annotations.ts';
import { DEFAULT_EBB_NAMESPACE } from '../../core/opt-in.ts';
import type { StatusContainerRecommendation } from '../../core/recommendation.ts';
import type { ContainerUsageSpec } from '../kwok-metrics.ts';
import { DECREASE_AFTER } from '../sandbox/workloads.ts';

export const GREEDY_APP = 'greedy';
const CONTAINER = 'worker';
const REQUESTED = { cpu: '1', memory: '1Gi' };

export const GREEDY_ABOUT =
  `Deployment demo/${GREEDY_APP} requests cpu ${REQUESTED.cpu} / memory ${REQUESTED.memory} and uses about 50m / 60Mi (ebb.dev/resize: in-place);\n` +
  `the sandbox's policy (ConfigMap ${DEFAULT_EBB_NAMESPACE}/ebb-policy) sets sizing.decreaseAfter: ${DECREASE_AFTER} (default 1h), so ebb may lower its requests\n` +
  `after a minute of usage history instead of an hour: the "${GREEDY_APP}" lines show them moving down in place.`;

/** What its container uses, as KWOK's kubelets report it. */
export const GREEDY_USAGE: ContainerUsageSpec = { containers: [CONTAINER], usage: { cpu: { value: '50m' }, memory: { value: '60Mi' } } };

// At least one replica: it serves no traffic, and the demo is about its requests.
export const GREEDY_ANNOTATIONS = { 'ebb.dev/resize': 'in-place', 'ebb.dev/min-replicas': '1' };
export const GREEDY_CONTAINER: V1Container = { name: CONTAINER, image: 'registry.example/greedy:1', resources: { requests: REQUESTED } };

const describeRecommendation = (r: StatusContainerRecommendation) =>
  `recommended cpu ${r.cpu} (${r.lower.cpu}–${r.upper.cpu}), memory ${r.memory} (${r.lower.memory}–${r.upper.memory})` +
  (r.raiseOnly ? `, raise-only until ${DECREASE_AFTER} of history (confidence ${r.confidence})` : '');

/** `cpu 1 → 54m` once the request moved, `cpu 1` before. */
const move = (resource: 'cpu' | 'memory', now: string | undefined) =>
  `${resource} ${REQUESTED[resource]}${now !== undefined && now !== REQUESTED[resource] ? ` → ${now}` : ''}`;

/** Greedy's pod, recommendation and resizes as one line, printed when it says something new. */
export class GreedyView {
  private last = '';

  constructor(
    private readonly core: CoreV1Api,
    private readonly apps: AppsV1Api,
    private readonly namespace: string,
  ) {}

  async changedLine(): Promise<string | undefined> {
    const line = await this.line();
    if (line === this.last) return undefined;
    this.last = line;
    return line;
  }

  private async line(): Promise<string> {
    const { namespace } = this;
    const [pods, deployment, events] = await Promise.all([
      this.core.listNamespacedPod({ namespace, labelSelector: `app=${GREEDY_APP}` }),
      this.apps.readNamespacedDeployment({ name: GREEDY_APP, namespace }),
      this.core.listNamespacedEvent({ namespace, fieldSelector: 'involvedObject.kind=Pod,reason=Resized' }),
    ]);
    const pod: V1Pod | undefined = pods.items.find((item) => !item.metadata?.deletionTimestamp);
    const status = JSON.parse(deployment.metadata?.annotations?.[STATUS_ANNOTATION] ?? '{}') as {
      recommendation?: { containers?: Record<string, StatusContainerRecommendation> };
      pending?: string[];
    };
    const recommendation = status.recommendation?.containers?.[CONTAINER];
    const resized = events.items
      .filter((event) => event.involvedObject.name === pod?.metadata?.name)
      .sort((a, b) => String(a.lastTimestamp).localeCompare(String(b.lastTimestamp)))
      .at(-1);
    const advice = recommendation ? describeRecommendation(recommendation) : 'no recommendation yet (it needs two usage samples)';
    const outcome = resized ? `Resized: ${resized.message}` : (status.pending?.[0] ?? 'not resized yet');
    return `${GREEDY_APP.padEnd(7)} ${podRequests(pod)} | ${advice} | ${outcome}`;
  }
}

/** The pod's requests as its spec wants them, and whether the node has applied them yet. */
function podRequests(pod: V1Pod | undefined): string {
  if (!pod) return 'no pod yet';
  const wanted = pod.spec?.containers.find((container) => container.name === CONTAINER)?.resources?.requests;
  const applied = pod.status?.containerStatuses?.find((container) => container.name === CONTAINER)?.resources?.requests;
  const node = wanted?.cpu === applied?.cpu && wanted?.memory === applied?.memory ? 'applied by the node' : 'the node is resizing';
  return `pod ${pod.metadata?.name} requests ${move('cpu', wanted?.cpu)}, ${move('memory', wanted?.memory)} (${node})`;
}
