// The sandbox's stand-ins for what a KWOK cluster lacks, for every workload opted in to ebb — the
// user's and the demo's alike: the kubelet (PodRunner: a stand-in app and the real interceptor per
// injected pod), kube-proxy (KubeProxy: a loopback port per port of each Service ebb handles) and
// the containers' usage (DefaultUsage: KWOK's resource metrics). Also the sandbox's policy, so
// that right-sizing shows within minutes. Everything else — the API server, the scheduler, KWOK's
// pod lifecycle, ebb's webhook, agents and controller — is real.

import { CoreV1Api } from '@kubernetes/client-node';
import { DEFAULT_EBB_NAMESPACE } from '../../core/opt-in.ts';
import { POLICY_CONFIGMAP, POLICY_KEY } from '../../kube/cluster-cache.ts';
import type { ControlPlane } from '../control-plane.ts';
import type { RunningEbb } from '../ebb.ts';
import { DefaultUsage } from './default-usage.ts';
import { KubeProxy } from './kube-proxy.ts';
import { PodRunner } from './pod-runner.ts';

/** How long the stand-in app takes to answer a request. */
const APP_LATENCY_MS = 200;

export const DECREASE_AFTER = '1m';
/** The sandbox's policy (ConfigMap ebb-policy in ebb's namespace): decreases after a minute of history. */
export const SANDBOX_POLICY = `# The sandbox's policy: a recommendation may lower requests after a minute of history (default 1h).\nsizing:\n  decreaseAfter: ${DECREASE_AFTER}\n`;

export interface SandboxWorkloads {
  pods: PodRunner;
  proxy: KubeProxy;
  usage: DefaultUsage;
  stop(): Promise<void>;
}

export async function startSandboxWorkloads(controlPlane: ControlPlane, ebb: RunningEbb, print: (line: string) => void): Promise<SandboxWorkloads> {
  const { kubeConfig, workDir } = controlPlane;
  await kubeConfig.makeApiClient(CoreV1Api).createNamespacedConfigMap({
    namespace: DEFAULT_EBB_NAMESPACE,
    body: { metadata: { name: POLICY_CONFIGMAP }, data: { [POLICY_KEY]: SANDBOX_POLICY } },
  });
  const pods = new PodRunner(kubeConfig, workDir, APP_LATENCY_MS, print);
  const usage = new DefaultUsage(kubeConfig, pods, print);
  const proxy = new KubeProxy(
    kubeConfig,
    pods,
    ebb.agents.map((agent) => agent.activatorHost),
    print,
  );
  await proxy.start();
  await pods.start();
  return {
    pods,
    proxy,
    usage,
    async stop() {
      await proxy.stop();
      await pods.stop();
    },
  };
}
