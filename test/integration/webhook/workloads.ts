// Building blocks of the webhook's integration tests: namespaces, Deployments (test/fixtures/
// deployments.ts) whose pods the real ReplicaSet controller creates, and what an injected pod looks
// like from the API server's side.

import { expect } from 'chai';
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Container, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import { INJECTED_ANNOTATION } from '../../../src/core/annotations.ts';
import type { InjectedRecord } from '../../../src/core/mutation.ts';
import { APP_PORT_NAME, SIDECAR_NAME } from '../../../src/protocol/sidecar.ts';
import { eventually } from '../../fixtures/control-plane.ts';

export class Workloads {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
  }

  /** Creates the namespace and waits for its `default` service account (no pod is admitted before). */
  async namespace(name: string, labels: Record<string, string> = {}): Promise<void> {
    await this.core.createNamespace({ body: { metadata: { name, labels } } });
    await eventually(`the default service account in ${name}`, async () => {
      const accounts = await this.core.listNamespacedServiceAccount({ namespace: name });
      return accounts.items.length > 0 ? true : undefined;
    });
  }

  /** Creates the Deployment and returns its pods once the ReplicaSet controller has created them all. */
  async deploy(deployment: V1Deployment): Promise<V1Pod[]> {
    const { name, namespace } = deployment.metadata as { name: string; namespace: string };
    await this.apps.createNamespacedDeployment({ namespace, body: deployment });
    return this.podsOf(namespace, name, deployment.spec?.replicas ?? 1);
  }

  async podsOf(namespace: string, app: string, count: number): Promise<V1Pod[]> {
    return eventually(`${count} pods of ${namespace}/${app}`, async () => {
      const pods = (await this.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items.filter((pod) => !pod.metadata?.deletionTimestamp);
      return pods.length === count ? pods : undefined;
    });
  }
}

export function injectedRecord(pod: V1Pod): InjectedRecord | undefined {
  const text = pod.metadata?.annotations?.[INJECTED_ANNOTATION];
  return text === undefined ? undefined : (JSON.parse(text) as InjectedRecord);
}

export const sidecarOf = (pod: V1Pod): V1Container | undefined => pod.spec?.initContainers?.find((container) => container.name === SIDECAR_NAME);

/** Everything ebb injects with the default policy, as the API server stored it. */
export function expectInjected(pod: V1Pod, workload: string): void {
  const name = pod.metadata?.name ?? pod.metadata?.generateName;
  const record = injectedRecord(pod);
  expect(record, `${name}: ${INJECTED_ANNOTATION}`).to.not.equal(undefined);
  expect(record!.workload).to.equal(workload);
  expect(record!.sidecar).to.equal('injected');
  // The resolved scaling settings, written as annotations (built-in defaults here).
  expect(pod.metadata?.annotations).to.include({
    'ebb.dev/min-replicas': '0',
    'ebb.dev/max-replicas': '10',
    'ebb.dev/target-concurrency': '10',
    'ebb.dev/idle-after': '15m',
  });
  // A native sidecar: an init container that keeps running.
  const sidecar = sidecarOf(pod);
  expect(sidecar, `${name}: the ${SIDECAR_NAME} init container`).to.not.equal(undefined);
  expect(sidecar!.restartPolicy).to.equal('Always');
  expect(sidecar!.ports?.find((port) => port.name === 'http')?.containerPort).to.equal(18080);
  const app = pod.spec!.containers[0]!;
  expect(app.ports?.[0]).to.include({ name: APP_PORT_NAME, containerPort: 8080 });
  // The app came without resources (BestEffort) and stays so: no requests from ebb, none on the sidecar.
  expect(app.resources?.requests).to.equal(undefined);
  expect(sidecar!.resources?.requests).to.equal(undefined);
  expect(pod.status?.qosClass).to.equal('BestEffort');
}

export function expectUntouched(pod: V1Pod): void {
  expect(pod.metadata?.annotations?.[INJECTED_ANNOTATION]).to.equal(undefined);
  expect(sidecarOf(pod)).to.equal(undefined);
  expect(pod.spec?.containers[0]?.ports?.[0]?.name).to.equal('http');
  expect(pod.spec?.containers[0]?.resources?.requests).to.equal(undefined);
}
