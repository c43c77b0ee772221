// The interceptor as a native sidecar (an init container with restartPolicy Always: it starts
// before the app and stops after it), and the named-port takeover that routes traffic through it:
// the app's port `http` becomes `ebb-app` and the sidecar takes the name `http` on its own port,
// so Services that target the port by name reach the interceptor, which forwards over loopback.
import type { V1Container, V1ContainerPort, V1Pod, V1ResourceRequirements } from '@kubernetes/client-node';
import { formatAmounts, type Amounts, type ContainerAmounts, type ResourceName } from '../pod-resources.ts';
import type { SidecarPolicy } from '../policy.ts';
import type { QosClass } from '../qos.ts';
import {
  ADMIN_PORT_NAME,
  APP_PORT_NAME,
  INTERCEPTOR_NODE_OPTIONS,
  INTERCEPTOR_READY_PATH,
  LISTEN_PORT_NAME,
  SIDECAR_ENV,
  SIDECAR_NAME,
} from '../../protocol/sidecar.ts';
import { add, pointer, type AddOperation } from './json-patch.ts';
import { within, type ContainerBounds } from './limit-range.ts';

/** Non-root, and the same user the distroless `nonroot` images use. */
export const SIDECAR_USER = 65532;

export interface AppPort {
  containerIndex: number;
  portIndex: number;
  port: V1ContainerPort;
}

const isTcp = (port: V1ContainerPort) => (port.protocol ?? 'TCP') === 'TCP';

function appContainerPorts(pod: V1Pod): AppPort[] {
  return (pod.spec?.containers ?? []).flatMap((container, containerIndex) =>
    (container.ports ?? []).map((port, portIndex) => ({ containerIndex, portIndex, port })),
  );
}

/**
 * The app port to intercept: the one `ebb.dev/port` names (by name or number), else the TCP port
 * named `http`, else the first TCP port. A string result says why there is none.
 */
export function chooseAppPort(pod: V1Pod, wanted: string | number | undefined): AppPort | string {
  if (pod.spec?.hostNetwork) return 'the pod uses the host network, where a sidecar port would be a node port';
  const ports = appContainerPorts(pod).filter((candidate) => isTcp(candidate.port));
  if (ports.length === 0) return 'no container declares a TCP containerPort to intercept';
  if (wanted === undefined) return ports.find((candidate) => candidate.port.name === 'http') ?? ports[0]!;
  const chosen = ports.find((candidate) => (typeof wanted === 'number' ? candidate.port.containerPort === wanted : candidate.port.name === wanted));
  return chosen ?? `ebb.dev/port ${JSON.stringify(String(wanted))} matches no TCP containerPort of the pod`;
}

/** The first port number from `preferred` up that no container of the pod declares (they share one network). */
function freePort(pod: V1Pod, preferred: number, taken: readonly number[]): number {
  const used = new Set([
    ...taken,
    ...[...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].flatMap((c) => (c.ports ?? []).map((p) => p.containerPort)),
  ]);
  let port = preferred;
  while (used.has(port)) port = port >= 65535 ? 1024 : port + 1;
  return port;
}

export interface SidecarPlan {
  policy: SidecarPolicy;
  appPort: AppPort;
  /** `namespace/deployment`, the workload key on the wire. */
  workload: string;
  /** From sidecarResources. */
  resources: ContainerAmounts;
}

/** What the pod and its namespace ask of the sidecar's resources. */
export interface SidecarDemands {
  /** The pod's QoS class, which the sidecar must not change. */
  qos: QosClass;
  /** What the namespace's LimitRanges allow a container. */
  bounds: ContainerBounds;
  /** Limits that a ResourceQuota selecting the pod tracks: a container without one refuses the pod. */
  limitsTracked: Readonly<Record<ResourceName, boolean>>;
}

/**
 * The sidecar's requests and limits: the policy's, moved into the namespace's LimitRange bounds,
 * shaped so that the pod keeps its QoS class.
 */
export function sidecarResources(policy: SidecarPolicy, demands: SidecarDemands): ContainerAmounts {
  const { bounds } = demands;
  switch (demands.qos) {
    case 'BestEffort':
      // Any request or limit would make the pod Burstable.
      return { requests: {}, limits: {} };
    case 'Guaranteed': {
      // Requests equal to limits keep the pod Guaranteed. That takes a CPU limit, which the policy
      // refuses anywhere else (throttling the proxy slows every request through it): in a
      // Guaranteed pod it is the price of keeping the class. Memory takes the policy's limit as
      // its request too: a limit at the 32Mi request would OOM-kill an interceptor whose RSS was
      // measured at 61 MB (npm run bench:proxy).
      const cpu = within(bounds.cpu, policy.requests.cpuMillis);
      const memory = within(bounds.memory, policy.memoryLimitBytes ?? policy.requests.memoryBytes);
      return { requests: { cpu, memory }, limits: { cpu, memory } };
    }
    case 'Burstable': {
      const requests = { cpu: within(bounds.cpu, policy.requests.cpuMillis), memory: within(bounds.memory, policy.requests.memoryBytes) };
      // A limit where the policy sets one (memory), else where the namespace demands one: a
      // LimitRange max (LimitRanger refuses a container without a limit then) or a quota that
      // tracks it. Then the LimitRange's default limit, else the request: never a CPU limit
      // nobody asked for, never one below the request.
      const limit = (resource: ResourceName, fromPolicy: number | undefined): Amounts => {
        const demanded = bounds[resource].max !== undefined || demands.limitsTracked[resource];
        const wanted = fromPolicy ?? (demanded ? (bounds[resource].defaultLimit ?? requests[resource]) : undefined);
        return wanted === undefined ? {} : { [resource]: within({ ...bounds[resource], min: requests[resource] }, wanted) };
      };
      return { requests, limits: { ...limit('cpu', undefined), ...limit('memory', policy.memoryLimitBytes) } };
    }
  }
}

function requirements({ requests, limits }: ContainerAmounts): V1ResourceRequirements | undefined {
  const resources: V1ResourceRequirements = {
    ...(Object.keys(requests).length > 0 ? { requests: formatAmounts(requests) } : {}),
    ...(Object.keys(limits).length > 0 ? { limits: formatAmounts(limits) } : {}),
  };
  return Object.keys(resources).length > 0 ? resources : undefined;
}

function interceptorContainer(pod: V1Pod, plan: SidecarPlan): V1Container {
  const { policy, appPort } = plan;
  const resources = requirements(plan.resources);
  const listenPort = freePort(pod, policy.listenPort, []);
  const adminPort = freePort(pod, policy.adminPort, [listenPort]);
  return {
    name: SIDECAR_NAME,
    image: policy.image,
    imagePullPolicy: policy.imagePullPolicy,
    restartPolicy: 'Always',
    ports: [
      { name: appPort.port.name ?? LISTEN_PORT_NAME, containerPort: listenPort, protocol: 'TCP' },
      { name: ADMIN_PORT_NAME, containerPort: adminPort, protocol: 'TCP' },
    ],
    env: [
      { name: SIDECAR_ENV.appPort, value: String(appPort.port.containerPort) },
      { name: SIDECAR_ENV.listenPort, value: String(listenPort) },
      { name: SIDECAR_ENV.adminPort, value: String(adminPort) },
      { name: SIDECAR_ENV.workload, value: plan.workload },
      { name: 'NODE_OPTIONS', value: INTERCEPTOR_NODE_OPTIONS },
    ],
    ...(resources ? { resources } : {}),
    // The interceptor answers /ready only while the app behind it is ready, so the pod is not
    // Ready (and gets no traffic) before the app can serve.
    readinessProbe: { httpGet: { path: INTERCEPTOR_READY_PATH, port: ADMIN_PORT_NAME }, periodSeconds: 2, failureThreshold: 2, timeoutSeconds: 1 },
    // The `restricted` Pod Security Standard, and a read-only root: the proxy writes nothing.
    securityContext: {
      runAsNonRoot: true,
      runAsUser: SIDECAR_USER,
      runAsGroup: SIDECAR_USER,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

/** Where a container names a port for the kubelet: probes and lifecycle hooks. */
const PORT_HANDLERS = [
  ['readinessProbe', 'httpGet'],
  ['readinessProbe', 'tcpSocket'],
  ['livenessProbe', 'httpGet'],
  ['livenessProbe', 'tcpSocket'],
  ['startupProbe', 'httpGet'],
  ['startupProbe', 'tcpSocket'],
  ['lifecycle', 'postStart', 'httpGet'],
  ['lifecycle', 'postStart', 'tcpSocket'],
  ['lifecycle', 'preStop', 'httpGet'],
  ['lifecycle', 'preStop', 'tcpSocket'],
] as const;

/**
 * The app container's probes and hooks that name the taken-over port, renamed with it: the kubelet
 * resolves a probe's port name among that container's own ports only, so a probe left on `http`
 * would never succeed (the API server admits it; the pod would never be Ready, or be restarted by
 * its liveness probe). They now reach the app directly, which is what a probe should measure.
 */
function renameHandlerPorts(container: V1Container, containerIndex: number, from: string): AddOperation[] {
  return PORT_HANDLERS.flatMap((path) => {
    const handler = path.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], container) as { port?: unknown } | undefined;
    return handler?.port === from ? [add(pointer('spec', 'containers', containerIndex, ...path, 'port'), APP_PORT_NAME)] : [];
  });
}

/** The sidecar and the takeover of the app port's name (by the port and by the app's probes). */
export function addSidecar(pod: V1Pod, plan: SidecarPlan): AddOperation[] {
  const sidecar = interceptorContainer(pod, plan);
  const operations = pod.spec?.initContainers ? [add(pointer('spec', 'initContainers', '-'), sidecar)] : [add(pointer('spec', 'initContainers'), [sidecar])];
  const { containerIndex, portIndex, port } = plan.appPort;
  if (port.name !== undefined) {
    operations.push(add(pointer('spec', 'containers', containerIndex, 'ports', portIndex, 'name'), APP_PORT_NAME));
    operations.push(...renameHandlerPorts(pod.spec!.containers[containerIndex]!, containerIndex, port.name));
  }
  return operations;
}
