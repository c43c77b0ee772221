// A real Kubernetes control plane on loopback for tests and the sandbox: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, and KWOK acting as the nodes' kubelets.
//
// Pods get IPs from a loopback CIDR (127.10.0.0/16 by default), so a test can start real
// processes bound to a pod's IP and reach them like the cluster would.

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Node } from '@kubernetes/client-node';
import { locateAssets, type AssetPaths } from './assets.ts';
import { createCertificateAuthority, issueCertificate, serviceAccountSigningKey, type KeyPair } from '../../certs/pki.ts';
import { freePort } from './ports.ts';
import { KWOK_STAGES } from './kwok-stages.ts';
import { installKwokUsageCrds, KWOK_RESOURCE_METRICS_CONFIG, KWOK_USAGE_KINDS, resourceMetricsPath } from './kwok-metrics.ts';
import { RESOURCE_METRICS_PATH_ANNOTATION } from '../core/usage/kubelet-endpoint.ts';
import { startProcess, type ManagedProcess } from './processes.ts';
import { createWorkDir, sweepAbandonedWorkDirs } from './workdir.ts';

export interface ControlPlaneOptions {
  /** KWOK nodes to create (default 2). */
  nodes?: number;
  /** Where KWOK allocates pod IPs (default 127.10.0.0/16: loopback, so tests can bind to them). */
  podCidr?: string;
  /** How long to wait for every component to be ready (default 90 s). */
  readyTimeoutMs?: number;
  /** Extra kube-apiserver flags, e.g. `--feature-gates=…`. */
  apiServerArgs?: string[];
  /**
   * Extra kube-controller-manager and kube-scheduler flags. Their API clients default to 20 and 50
   * requests/s, which makes the ReplicaSet controller and the scheduler take minutes over thousands
   * of pods: a benchmark raises `--kube-api-qps` and `--kube-api-burst` here.
   */
  controllerManagerArgs?: string[];
  schedulerArgs?: string[];
  /** Pods each KWOK node accepts (default 110, the kubelet's default). */
  maxPodsPerNode?: number;
  assets?: AssetPaths;
}

export interface ControlPlane {
  /** The admin kubeconfig as a file path and as loaded config. */
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  server: string;
  /** The CA that signed the API server's certificate and the admin's client certificate. */
  ca: KeyPair;
  nodeNames: string[];
  workDir: string;
  processes: ManagedProcess[];
  /**
   * Starts a component again (stopping it first if it runs) with the binary and flags it had: the
   * same port, data and log file. The API server's restart resolves once it answers /readyz. For
   * chaos tests: a component stopped with its process's stop() comes back here.
   */
  restart(name: string): Promise<void>;
  stop(): Promise<void>;
}

const NODE_ANNOTATION = 'kwok.x-k8s.io/node';
const SERVICE_CIDR = '10.96.0.0/16';

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const assets = options.assets ?? locateAssets();
  const nodeCount = options.nodes ?? 2;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 90_000);
  sweepAbandonedWorkDirs();
  const workDir = createWorkDir();
  const processes: ManagedProcess[] = [];
  const starters = new Map<string, () => ManagedProcess>();
  const launch = (name: string, binary: string, args: string[], logFile: string) => {
    starters.set(name, () => startProcess(name, binary, args, logFile));
    return starters.get(name)!();
  };
  // If the owner exits without stop() (an uncaught error, a signal turned into exit), nothing
  // asynchronous runs any more: kill and remove synchronously.
  const stopNow = () => {
    for (const child of processes) child.killNow();
    rmSync(workDir, { recursive: true, force: true });
  };
  process.on('exit', stopNow);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // Reverse order: the nodes and controllers go before the API server, the API server before etcd.
    for (const child of [...processes].reverse()) await child.stop();
    rmSync(workDir, { recursive: true, force: true });
    process.off('exit', stopNow);
  };

  try {
    const file = (name: string, text: string) => {
      const path = join(workDir, name);
      writeFileSync(path, text, { mode: 0o600 });
      return path;
    };
    const ca = createCertificateAuthority('ebb-local-ca');
    const serving = issueCertificate(ca, {
      commonName: 'kube-apiserver',
      dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
      ipAddresses: ['127.0.0.1', '10.96.0.1'],
      usage: 'server',
    });
    const admin = issueCertificate(ca, { commonName: 'ebb-admin', organizations: ['system:masters'], usage: 'client' });
    const serviceAccountKey = serviceAccountSigningKey();

    const [etcdClientPort, etcdPeerPort, apiPort, kwokPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const server = `https://127.0.0.1:${apiPort}`;
    const caFile = file('ca.crt', ca.certPem);
    const kubeconfigPath = file('admin.kubeconfig', adminKubeconfig(server, ca, admin));

    processes.push(
      launch('etcd', assets.etcd, [
        `--data-dir=${join(workDir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdClientPort}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdClientPort}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
        // A throw-away cluster: durability is worth nothing, fsync latency is worth a lot.
        '--unsafe-no-fsync',
        '--log-level=warn',
      ], join(workDir, 'etcd.log')),
    );
    processes.push(
      launch('kube-apiserver', assets['kube-apiserver'], [
        `--etcd-servers=http://127.0.0.1:${etcdClientPort}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--tls-cert-file=${file('apiserver.crt', serving.certPem)}`,
        `--tls-private-key-file=${file('apiserver.key', serving.keyPem)}`,
        `--client-ca-file=${caFile}`,
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${file('sa.pub', serviceAccountKey.publicKeyPem)}`,
        `--service-account-signing-key-file=${file('sa.key', serviceAccountKey.keyPem)}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--authorization-mode=RBAC',
        '--allow-privileged=true',
        '--profiling=false',
        ...(options.apiServerArgs ?? []),
      ], join(workDir, 'kube-apiserver.log')),
    );

    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfigPath);
    await waitFor('kube-apiserver /readyz', deadline, processes, () => apiServerReady(kubeConfig));

    processes.push(
      launch('kube-controller-manager', assets['kube-controller-manager'], [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${await freePort()}`,
        `--service-account-private-key-file=${file('sa-controller.key', serviceAccountKey.keyPem)}`,
        `--root-ca-file=${caFile}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        '--use-service-account-credentials=false',
        '--leader-elect=false',
        ...(options.controllerManagerArgs ?? []),
      ], join(workDir, 'kube-controller-manager.log')),
      launch('kube-scheduler', assets['kube-scheduler'], [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${await freePort()}`,
        '--leader-elect=false',
        ...(options.schedulerArgs ?? []),
      ], join(workDir, 'kube-scheduler.log')),
    );
    // While those start: what kwok watches from its start must exist before it.
    await installKwokUsageCrds(kubeConfig, deadline);
    processes.push(
      launch('kwok', assets.kwok, [
        `--kubeconfig=${kubeconfigPath}`,
        `--config=${file('kwok-config.yaml', `${KWOK_STAGES}---\n${KWOK_RESOURCE_METRICS_CONFIG}`)}`,
        `--manage-nodes-with-annotation-selector=${NODE_ANNOTATION}=fake`,
        `--cidr=${options.podCidr ?? '127.10.0.0/16'}`,
        '--node-ip=127.0.0.1',
        // Heartbeats through node Leases, as kubelets send them: without them the node lifecycle
        // controller finds the nodes silent after its grace period and marks their pods not ready.
        '--node-lease-duration-seconds=40',
        `--server-address=127.0.0.1:${kwokPort}`,
        // The kubelets' /metrics/resource (kwok-metrics.ts), over TLS; kwok answers plain HTTP on the same port too.
        `--enable-crds=${KWOK_USAGE_KINDS.join(',')}`,
        // The kubelets' serving pair: any from the cluster CA for 127.0.0.1 (where kubelets get theirs
        // through serverTLSBootstrap); the API server's saves generating a key on every start.
        `--tls-cert-file=${file('kubelet.crt', serving.certPem)}`,
        `--tls-private-key-file=${file('kubelet.key', serving.keyPem)}`,
      ], join(workDir, 'kwok.log')),
    );

    const core = kubeConfig.makeApiClient(CoreV1Api);
    const nodeNames = Array.from({ length: nodeCount }, (_, i) => `kwok-node-${i}`);
    await Promise.all(nodeNames.map((name) => core.createNode({ body: kwokNode(name, options.maxPodsPerNode ?? 110, kwokPort) })));
    await clusterReady(core, nodeNames, deadline, processes);

    const restart = async (name: string) => {
      const index = processes.findIndex((child) => child.name === name);
      const start = starters.get(name);
      if (index < 0 || !start) throw new Error(`no control-plane component named ${name}`);
      await processes[index]!.stop();
      const started = start();
      processes[index] = started;
      if (name !== 'kube-apiserver') return;
      await waitFor('kube-apiserver /readyz after a restart', Date.now() + (options.readyTimeoutMs ?? 90_000), [started], () => apiServerReady(kubeConfig));
    };
    return { kubeconfigPath, kubeConfig, server, ca, nodeNames, workDir, processes, restart, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The nodes Ready, the controllers running, and KWOK's IP pool made: from here tests may create pods. */
async function clusterReady(core: CoreV1Api, nodeNames: readonly string[], deadline: number, processes: ManagedProcess[]): Promise<void> {
  await waitFor('KWOK nodes Ready', deadline, processes, async () => {
    const nodes = await core.listNode();
    return nodes.items.filter(isReady).length === nodeNames.length;
  });
  // The controller-manager's service-account controller gives each namespace its `default`
  // account; until it has, no pod can be admitted. Its existence shows the controllers run.
  await waitFor('controller-manager (default service account)', deadline, processes, async () => {
    const accounts = await core.listNamespacedServiceAccount({ namespace: 'default' });
    return accounts.items.some((account) => account.metadata?.name === 'default');
  });
  await warmKwokIpPool(core, nodeNames[0]!, deadline, processes);
}

/**
 * Runs one pod, alone, before any test creates pods. KWOK v0.8.0 makes its pod IP pool on the first
 * pod's IP without a lock (ipPool: Load, then Store): two pods started at once on a fresh KWOK can
 * each make a pool and get the same IP (seen once: two of three pods of a Deployment on one IP).
 * Once one pod has had its IP, the pool exists and every later pod draws from it. The pod is then
 * deleted, and its IP returns to the pool.
 */
async function warmKwokIpPool(core: CoreV1Api, nodeName: string, deadline: number, processes: ManagedProcess[]): Promise<void> {
  const name = 'ebb-kwok-ip-pool';
  const namespace = 'default';
  await core.createNamespacedPod({ namespace, body: { metadata: { name }, spec: { nodeName, containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.10' }] } } });
  await waitFor('KWOK to give its first pod an IP', deadline, processes, async () => Boolean((await core.readNamespacedPod({ name, namespace })).status?.podIP));
  await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });
  await waitFor('the first pod to go', deadline, processes, async () => !(await core.listNamespacedPod({ namespace })).items.some((pod) => pod.metadata?.name === name));
}

function adminKubeconfig(server: string, ca: KeyPair, admin: KeyPair): string {
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  // JSON is YAML, and every Kubernetes client reads it.
  return JSON.stringify(
    {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'ebb-local', cluster: { server, 'certificate-authority-data': b64(ca.certPem) } }],
      users: [{ name: 'ebb-admin', user: { 'client-certificate-data': b64(admin.certPem), 'client-key-data': b64(admin.keyPem) } }],
      contexts: [{ name: 'ebb-local', context: { cluster: 'ebb-local', user: 'ebb-admin' } }],
      'current-context': 'ebb-local',
    },
    null,
    2,
  );
}

/** A node KWOK runs; its kubelet endpoint (port and metrics path) is kwok's server. */
function kwokNode(name: string, maxPods: number, kwokPort: number): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { [NODE_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0', [RESOURCE_METRICS_PATH_ANNOTATION]: resourceMetricsPath(name) },
      labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok' },
    },
    status: {
      allocatable: { cpu: '32', memory: '256Gi', pods: String(maxPods) },
      capacity: { cpu: '32', memory: '256Gi', pods: String(maxPods) },
      daemonEndpoints: { kubeletEndpoint: { Port: kwokPort } },
    },
  };
}

const isReady = (node: V1Node) => node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

async function apiServerReady(kubeConfig: KubeConfig): Promise<boolean> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) return false;
  const request: import('node:https').RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(request);
  const { request: httpsRequest } = await import('node:https');
  return new Promise((resolve) => {
    const req = httpsRequest(`${cluster.server}/readyz`, { ...request, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function logTail(child: ManagedProcess, lines: number): string {
  const tail = readFileSync(child.logFile, 'utf8').trimEnd().split('\n').slice(-lines);
  return tail.map((line) => (line.length > 400 ? `${line.slice(0, 400)} …` : line)).join('\n');
}

/** Polls until `check` is true; fails early, with the log's tail, when a component has died. */
async function waitFor(what: string, deadline: number, processes: ManagedProcess[], check: () => Promise<boolean>) {
  const exitedOf = new Map<ManagedProcess, string>();
  for (const child of processes) void child.exited.then((how) => exitedOf.set(child, how));
  for (;;) {
    const dead = processes.find((child) => exitedOf.has(child));
    if (dead) {
      throw new Error(`${dead.name} exited (${exitedOf.get(dead)}) while waiting for ${what}:\n${logTail(dead, 15)}`);
    }
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) {
      const tails = processes.map((child) => `--- ${child.name}:\n${logTail(child, 8)}`).join('\n');
      throw new Error(`timed out waiting for ${what}\n${tails}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
