// `npm start`: the local sandbox. Builds the control-plane binaries if needed, starts a real
// control plane with KWOK nodes on loopback, runs ebb in it (webhook, one agent per node,
// controller), and — unless EBB_SANDBOX_DEMO=0 — a demo workload with real traffic whose ebb and
// flow is shown live. Ctrl-C stops everything.

import { dirname } from 'node:path';
import { ensureAssets } from '../localcluster/assets.ts';
import { startControlPlane, type ControlPlane } from '../localcluster/control-plane.ts';
import { startDemo, DEMO_NAMESPACE, type Demo } from '../localcluster/demo/demo.ts';
import { GREEDY_ABOUT } from '../localcluster/demo/greedy.ts';
import { startEbb, type RunningEbb } from '../localcluster/ebb.ts';

let controlPlane: ControlPlane | undefined;
let ebb: RunningEbb | undefined;
let demo: Demo | undefined;
let stopping = false;

async function shutdown(signal: NodeJS.Signals) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the sandbox …`);
  // Before the control plane is up, exiting is enough: its 'exit' hook kills what has started.
  await demo?.stop();
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
  controlPlane = await startControlPlane({ nodes: Number(process.env.EBB_SANDBOX_NODES ?? 2), assets });
  const controlPlaneSeconds = ((Date.now() - started) / 1000).toFixed(1);
  ebb = await startEbb(controlPlane);
  const withDemo = process.env.EBB_SANDBOX_DEMO !== '0';
  console.log(`
ebb sandbox: a Kubernetes control plane with ${controlPlane.nodeNames.length} KWOK nodes (up in ${controlPlaneSeconds} s) at ${controlPlane.server},
with ebb's webhook, ${ebb.agents.length} agents and the controller running in it.

In another terminal:
  export KUBECONFIG=${controlPlane.kubeconfigPath}
  export PATH=${dirname(assets.kubectl)}:$PATH
  kubectl get nodes
  kubectl create namespace shop && kubectl label namespace shop ebb.dev/injection=enabled
  kubectl -n shop create deployment web --image=nginx --port=8080
  kubectl -n shop get pods -o yaml | grep -A3 'ebb.dev/injected'     # the sidecar and annotations ebb injected

Logs: ${controlPlane.workDir}/*.log
Press Ctrl-C to stop everything.`);
  if (withDemo) {
    demo = await startDemo(controlPlane, ebb, (line) => console.log(line));
    console.log(`
Demo: Deployment ${DEMO_NAMESPACE}/hello (idle-after 20s, 3 in flight per pod, at most 6 replicas) gets traffic
in phases; reach its Service yourself with: curl http://127.0.0.1:${demo.servicePort}/
(the sandbox plays kube-proxy there: to the pods, or to ebb's activator while the workload sleeps)

${GREEDY_ABOUT}
`);
  }
} catch (error) {
  console.error(`sandbox: ${error instanceof Error ? error.message : String(error)}`);
  await ebb?.stop();
  await controlPlane?.stop();
  process.exit(1);
}
