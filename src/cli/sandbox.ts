// `npm start`: the local sandbox. Builds the control-plane binaries if needed, starts a real
// control plane with KWOK nodes on loopback, runs ebb in it (webhook, one agent per node,
// controller), plays the kubelet, kube-proxy and the containers' usage for every opted-in
// workload (the user's own too: each Service ebb handles gets a local port, printed here), and —
// unless EBB_SANDBOX_DEMO=0 — a demo workload with real traffic whose ebb and flow is shown live.
// Ctrl-C stops everything.

import { dirname } from 'node:path';
import { ensureAssets } from '../localcluster/assets.ts';
import { startControlPlane, type ControlPlane } from '../localcluster/control-plane.ts';
import { startDemo, DEMO_NAMESPACE, type Demo } from '../localcluster/demo/demo.ts';
import { GREEDY_ABOUT } from '../localcluster/demo/greedy.ts';
import { startEbb, type RunningEbb } from '../localcluster/ebb.ts';
import { startSandboxWorkloads, type SandboxWorkloads } from '../localcluster/sandbox/workloads.ts';

let controlPlane: ControlPlane | undefined;
let ebb: RunningEbb | undefined;
let workloads: SandboxWorkloads | undefined;
let demo: Demo | undefined;
let stopping = false;

async function shutdown(signal: NodeJS.Signals) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the sandbox …`);
  // Before the control plane is up, exiting is enough: its 'exit' hook kills what has started.
  demo?.stop();
  await workloads?.stop();
  await ebb?.stop();
  await controlPlane?.stop();
  console.log('stopped; nothing is left running.');
  process.exit(0);
}
process.on('SIGINT', (signal) => void shutdown(signal));
process.on('SIGTERM', (signal) => void shutdown(signal));

try {
  const assets = await ensureAssets((line) => console.log(line));
  const started = Date.now();
  // Pod IPs of its own (as the agents' addresses): two sandboxes on one machine bind apart.
  const podCidr = `127.${100 + (process.pid % 100)}.0.0/16`;
  controlPlane = await startControlPlane({ nodes: Number(process.env.EBB_SANDBOX_NODES ?? 2), assets, podCidr });
  const controlPlaneSeconds = ((Date.now() - started) / 1000).toFixed(1);
  ebb = await startEbb(controlPlane);
  workloads = await startSandboxWorkloads(controlPlane, ebb, (line) => console.log(line));
  const withDemo = process.env.EBB_SANDBOX_DEMO !== '0';
  console.log(`
ebb sandbox: a Kubernetes control plane with ${controlPlane.nodeNames.length} KWOK nodes (up in ${controlPlaneSeconds} s) at ${controlPlane.server},
with ebb's webhook, ${ebb.agents.length} agents and the controller running in it.

In another terminal:
  export KUBECONFIG=${controlPlane.kubeconfigPath}
  export PATH=${dirname(assets.kubectl)}:$PATH
  kubectl get nodes
  kubectl create namespace shop && kubectl label namespace shop ebb.dev/injection=enabled
  kubectl -n shop apply -f web.yaml   # a Deployment with a port named http, a Service with targetPort: http (README)
  node --import tsx src/cli/kubectl-ebb/main.ts status     # kubectl ebb status

The sandbox plays each injected pod (a stand-in app answering 200, behind ebb's real interceptor)
and kube-proxy for each Service of an opted-in workload: it prints a local port per Service port
(shop/web:80 → curl http://127.0.0.1:PORT/), to the pods, or to ebb's activator while it sleeps.

Logs: ${controlPlane.workDir}/*.log
Press Ctrl-C to stop everything.`);
  if (withDemo) {
    demo = await startDemo(controlPlane, ebb, workloads, (line) => console.log(line));
    console.log(`
Demo: Deployment ${DEMO_NAMESPACE}/hello (idle-after 20s, 3 in flight per pod, at most 6 replicas) gets traffic
in phases; reach its Service yourself with: curl http://127.0.0.1:${demo.servicePort}/
(the sandbox plays kube-proxy there: to the pods, or to ebb's activator while the workload sleeps)

${GREEDY_ABOUT}
`);
  }
} catch (error) {
  console.error(`sandbox: ${error instanceof Error ? error.message : String(error)}`);
  await workloads?.stop();
  await ebb?.stop();
  await controlPlane?.stop();
  process.exit(1);
}
