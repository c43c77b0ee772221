// What the data-path tests on the real control plane share: namespaces and service-account tokens
// made through the API, pods shaped as the webhook leaves them, and the real interceptor and app
// processes started on a pod's loopback IP (KWOK gives pods 127.10.x.y, which Linux routes to lo).

import type http from 'node:http';
import { CoreV1Api, type KubeConfig, type V1Pod, type V1PodSpec } from '@kubernetes/client-node';
import { eventually } from '../../fixtures/control-plane.ts';
import { INJECTED_ANNOTATION } from '../../../src/protocol/activator.ts';
import { ADMIN_PORT_NAME } from '../../../src/protocol/stats.ts';
import { freePort, request, startApp, startInterceptor, type InterceptorReady, type Started } from './processes.ts';

export interface PodPorts {
  /** The app's own port (renamed `ebb-app` by the webhook). */
  app: number;
  /** The sidecar's port that took over the name `http`. */
  listen: number;
  admin: number;
}

/** Ports for one test's pods: each pod has its own IP, but concurrent runs may share IPs. */
export async function podPorts(): Promise<PodPorts> {
  return { app: await freePort(), listen: await freePort(), admin: await freePort() };
}

/** The metadata and spec the webhook writes: the annotation, a native sidecar owning `http` and `ebb-admin`. */
export function injectedPodTemplate(labels: Record<string, string>, ports: PodPorts): { metadata: V1Pod['metadata']; spec: V1PodSpec } {
  return {
    metadata: { labels, annotations: { [INJECTED_ANNOTATION]: '{"version":"test"}' } },
    spec: {
      initContainers: [
        {
          name: 'ebb-interceptor',
          image: 'registry.example/ebb:test',
          restartPolicy: 'Always',
          ports: [
            { name: 'http', containerPort: ports.listen, protocol: 'TCP' },
            { name: ADMIN_PORT_NAME, containerPort: ports.admin, protocol: 'TCP' },
          ],
        },
      ],
      containers: [{ name: 'app', image: 'registry.example/app:1', ports: [{ name: 'ebb-app', containerPort: ports.app, protocol: 'TCP' }] }],
    },
  };
}

export async function createNamespace(core: CoreV1Api, name: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name } } });
  await eventually(`the default service account in ${name}`, async () => ((await core.listNamespacedServiceAccount({ namespace: name })).items.length > 0 ? true : undefined));
}

/** A token for a service account with ebb's audience, as its projected volume would hold. */
export async function serviceAccountToken(kubeConfig: KubeConfig, namespace: string, name: string): Promise<string> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  const issued = await core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: ['ebb.dev'], expirationSeconds: 3600 } } });
  const token = issued.status?.token;
  if (!token) throw new Error(`no token issued for ${namespace}/${name}`);
  return token;
}

/** The pods matching the selector that KWOK runs, each with its IP, once there are `count`. */
export function runningPods(core: CoreV1Api, namespace: string, labelSelector: string, count: number): Promise<V1Pod[]> {
  return eventually(`${count} running pod(s) ${labelSelector} with an IP`, async () => {
    const pods = (await core.listNamespacedPod({ namespace, labelSelector })).items.filter((p) => p.status?.phase === 'Running' && p.status.podIP && !p.metadata?.deletionTimestamp);
    return pods.length === count ? pods : undefined;
  });
}

/** The app and, in front of it, the real interceptor, both bound to the pod's IP at its declared ports. */
export async function startPodProcesses(podIP: string, ports: PodPorts, workload: string, onRequest?: (req: http.IncomingMessage) => void): Promise<{ app: http.Server; interceptor: Started<InterceptorReady> }> {
  const app = await startApp(ports.app, 10, onRequest, podIP);
  const interceptor = await startInterceptor(ports.app, {
    EBB_LISTEN_HOST: podIP,
    EBB_LISTEN_PORT: String(ports.listen),
    EBB_ADMIN_PORT: String(ports.admin),
    EBB_APP_HOST: podIP,
    EBB_WORKLOAD: workload,
  });
  return { app, interceptor };
}

/** One sample of the agent's /metrics, e.g. metric(text, 'ebb_agent_wake_requests_total{outcome="accepted"}'). */
export async function agentMetric(agentPort: number, series: string): Promise<number | undefined> {
  const reply = await request(agentPort, '/metrics');
  const line = reply.body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
