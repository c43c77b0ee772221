// `npm start`: the local sandbox. Builds the control-plane binaries if needed, starts a real
// control plane with KWOK nodes on loopback, says how to use it, and stops everything on Ctrl-C.

import { dirname } from 'node:path';
import { ensureAssets } from '../localcluster/assets.ts';
import { startControlPlane, type ControlPlane } from '../localcluster/control-plane.ts';

let controlPlane: ControlPlane | undefined;
let stopping = false;

async function shutdown(signal: NodeJS.Signals) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the sandbox …`);
  // Before the control plane is up, exiting is enough: its 'exit' hook kills what has started.
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
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`
ebb sandbox: a Kubernetes control plane with ${controlPlane.nodeNames.length} KWOK nodes is up (${seconds} s) at ${controlPlane.server}

In another terminal:
  export KUBECONFIG=${controlPlane.kubeconfigPath}
  export PATH=${dirname(assets.kubectl)}:$PATH
  kubectl get nodes

Logs: ${controlPlane.workDir}/*.log
Press Ctrl-C to stop everything.`);
} catch (error) {
  console.error(`sandbox: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
