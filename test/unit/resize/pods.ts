// Running pods as the API server and a kubelet with in-place resize report them, and the
// recommendation as the status carries it, for the resize planner's tests.
import type { V1Container, V1Pod, V1PodCondition } from '@kubernetes/client-node';
import type { StatusContainerRecommendation, StatusRecommendation } from '../../../src/core/recommendation.ts';
import { slimPod, type SlimPod } from '../../../src/core/resize/slim-pod.ts';

export const NOW = Date.parse('2026-03-02T10:00:00Z');

type Resources = V1Container['resources'];

export interface PodShape {
  app?: Resources;
  /** More app containers, by name. */
  others?: Record<string, Resources>;
  sidecar?: Resources;
  resizePolicy?: V1Container['resizePolicy'];
  generation?: number;
  observedGeneration?: number;
  conditions?: V1PodCondition[];
  qosClass?: string;
  /** Applied resources per container as the kubelet reports them (default: the spec's); null: none reported. */
  applied?: Record<string, Resources | null>;
  phase?: string;
}

/** A Running pod of shop/web whose node applied its spec, unless the shape says otherwise. */
export function runningPod(shape: PodShape = {}): V1Pod {
  const containers: V1Container[] = [
    {
      name: 'app',
      image: 'app:1',
      resources: shape.app ?? { requests: { cpu: '100m', memory: '64Mi' } },
      ...(shape.resizePolicy ? { resizePolicy: shape.resizePolicy } : {}),
    },
    ...Object.entries(shape.others ?? {}).map(([name, resources]) => ({ name, image: 'other:1', resources })),
  ];
  const initContainers: V1Container[] = shape.sidecar ? [{ name: 'ebb-interceptor', image: 'ebb:1', restartPolicy: 'Always', resources: shape.sidecar }] : [];
  const status = (c: V1Container) => {
    const applied = shape.applied?.[c.name];
    return {
      name: c.name,
      image: c.image!,
      imageID: '',
      ready: true,
      restartCount: 0,
      state: { running: {} },
      ...(applied === null ? {} : { resources: applied ?? c.resources }),
    };
  };
  const generation = shape.generation ?? 1;
  return {
    metadata: {
      namespace: 'shop',
      name: 'web-7d9f8-abcde',
      uid: 'uid-1',
      resourceVersion: '42',
      generation,
      labels: { app: 'web' },
      creationTimestamp: new Date(NOW - 3_600_000),
    },
    spec: { containers, ...(initContainers.length > 0 ? { initContainers } : {}), nodeName: 'kwok-node-0' },
    status: {
      phase: shape.phase ?? 'Running',
      observedGeneration: shape.observedGeneration ?? generation,
      ...(shape.qosClass ? { qosClass: shape.qosClass } : {}),
      conditions: [{ type: 'Ready', status: 'True' }, ...(shape.conditions ?? [])],
      containerStatuses: containers.map(status),
      ...(initContainers.length > 0 ? { initContainerStatuses: initContainers.map(status) } : {}),
    },
  };
}

export const slim = (shape: PodShape = {}): SlimPod => slimPod(runningPod(shape), 'shop/web');

export function condition(
  type: 'PodResizePending' | 'PodResizeInProgress',
  reason: string | undefined,
  observedGeneration: number,
  since = NOW,
  message = '',
): V1PodCondition {
  return { type, status: 'True', ...(reason ? { reason } : {}), message, observedGeneration, lastTransitionTime: new Date(since) };
}

/** One container's recommendation in the status form. */
export function recommended(cpu: [string, string, string], memory: [string, string, string], raiseOnly = false): StatusContainerRecommendation {
  return {
    cpu: cpu[1],
    memory: memory[1],
    lower: { cpu: cpu[0], memory: memory[0] },
    upper: { cpu: cpu[2], memory: memory[2] },
    confidence: raiseOnly ? 0.5 : 1,
    ...(raiseOnly ? { raiseOnly: true as const } : {}),
  };
}

export const statusOf = (containers: Record<string, StatusContainerRecommendation>): StatusRecommendation => ({ containers });
