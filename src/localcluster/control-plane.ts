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
  const readyTimeoutMs = options.readyTimeoutMs ?? 90_000;
  const deadline = Date.now() + readyTimeoutMs;
  sweepAbandonedWorkDirs();
  const workDir = createWorkDir();
  const components = superviseComponents(workDir);
  try {
    const { kwokPort, ...access } = await launchComponents(components, workDir, options, deadline);
    const core = access.kubeConfig.makeApiClient(CoreV1Api);
    const nodeNames = Array.from({ length: options.nodes ?? 2 }, (_, i) => `kwok-node-${i}`);
    await Promise.all(nodeNames.map((name) => core.createNode({ body: kwokNode(name, options.maxPodsPerNode ?? 110, kwokPort) })));
    await clusterReady(core, nodeNames, deadline, components.processes);

    const restart = async (name: string) => {
      const started = await components.restart(name);
      if (name !== 'kube-apiserver') return;
      await waitFor('kube-apiserver /readyz after a restart', Date.now() + readyTimeoutMs, [started], () => apiServerReady(access.kubeConfig));
    };
    return { ...access, nodeNames, workDir, processes: components.processes, restart, stop: components.stop };
  } catch (error) {
    await components.stop();
    throw error;
  }
}

/**
 * Each component in the order it needs the one before: etcd, the API server (waited for), the
 * controller-manager and the scheduler, then kwok once the kinds it watches exist.
 */
async function launchComponents(components: Components, workDir: string, options: ControlPlaneOptions, deadline: number) {
  const assets = options.assets ?? locateAssets();
  const file = (name: string, text: string) => writePrivateFile(workDir, name, text);
  const pki = controlPlanePki();
  const [etcdClientPort, etcdPeerPort, apiPort, kwokPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfigPath = file('admin.kubeconfig', adminKubeconfig(server, pki.ca, pki.admin));
  const caFile = file('ca.crt', pki.ca.certPem);

  components.launch('etcd', assets.etcd, etcdFlags(join(workDir, 'etcd'), etcdClientPort, etcdPeerPort));
  components.launch('kube-apiserver', assets['kube-apiserver'], [
    ...apiServerFlags(file, pki, caFile, { etcdClientPort, apiPort }),
    ...(options.apiServerArgs ?? []),
  ]);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  await waitFor('kube-apiserver /readyz', deadline, components.processes, () => apiServerReady(kubeConfig));

  const serviceAccountKeyFile = file('sa-controller.key', pki.serviceAccountKey.keyPem);
  components.launch('kube-controller-manager', assets['kube-controller-manager'], [
    ...(await controllerManagerFlags(kubeconfigPath, caFile, serviceAccountKeyFile)),
    ...(options.controllerManagerArgs ?? []),
  ]);
  components.launch('kube-scheduler', assets['kube-scheduler'], [...(await clientFlags(kubeconfigPath)), ...(options.schedulerArgs ?? [])]);
  // While those start: what kwok watches from its start must exist before it.
  await installKwokUsageCrds(kubeConfig, deadline);
  components.launch('kwok', assets.kwok, kwokFlags(file, pki, { kubeconfigPath, kwokPort, podCidr: options.podCidr ?? '127.10.0.0/16' }));
  return { kubeconfigPath, kubeConfig, server, ca: pki.ca, kwokPort };
}

type Components = ReturnType<typeof superviseComponents>;

/**
 * The components' processes, in the order they started: each can start again with the binary and
 * flags it had (its log in `<workDir>/<name>.log`); stop() stops them in reverse order and removes
 * the work directory.
 */
function superviseComponents(workDir: string) {
  const processes: ManagedProcess[] = [];
  const starters = new Map<string, () => ManagedProcess>();
  // If the owner exits without stop() (an uncaught error, a signal turned into exit), nothing
  // asynchronous runs any more: kill and remove synchronously.
  const stopNow = () => {
    for (const child of processes) child.killNow();
    rmSync(workDir, { recursive: true, force: true });
  };
  process.on('exit', stopNow);
  let stopped = false;
  return {
    processes,
    launch: (name: string, binary: string, args: string[]): void => {
      const start = () => startProcess(name, binary, args, join(workDir, `${name}.log`));
      starters.set(name, start);
      processes.push(start());
    },
    restart: async (name: string): Promise<ManagedProcess> => {
      const index = processes.findIndex((child) => child.name === name);
      const start = starters.get(name);
      if (index < 0 || !start) throw new Error(`no control-plane component named ${name}`);
      await processes[index]!.stop();
      processes[index] = start();
      return processes[index];
    },
    stop: async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      // Reverse order: the nodes and controllers go before the API server, the API server before etcd.
      for (const child of [...processes].reverse()) await child.stop();
      rmSync(workDir, { recursive: true, force: true });
      process.off('exit', stopNow);
    },
  };
}

function writePrivateFile(workDir: string, name: string, text: string): string {
  const path = join(workDir, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

/** Writes a file into the work directory and returns its path. */
type WriteFile = (name: string, text: string) => string;

interface ControlPlanePki {
  ca: KeyPair;
  /** The API server's serving pair (the kubelets' too). */
  serving: KeyPair;
  admin: KeyPair;
  serviceAccountKey: ReturnType<typeof serviceAccountSigningKey>;
}

function controlPlanePki(): ControlPlanePki {
  const ca = createCertificateAuthority('ebb-local-ca');
  const serving = issueCertificate(ca, {
    commonName: 'kube-apiserver',
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
    ipAddresses: ['127.0.0.1', '10.96.0.1'],
    usage: 'server',
  });
  const admin = issueCertificate(ca, { commonName: 'ebb-admin', organizations: ['system:masters'], usage: 'client' });
  return { ca, serving, admin, serviceAccountKey: serviceAccountSigningKey() };
}

function etcdFlags(dataDir: string, clientPort: number, peerPort: number): string[] {
  return [
    `--data-dir=${dataDir}`,
    `--listen-client-urls=http://127.0.0.1:${clientPort}`,
    `--advertise-client-urls=http://127.0.0.1:${clientPort}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
    // A throw-away cluster: durability is worth nothing, fsync latency is worth a lot.
    '--unsafe-no-fsync',
    '--log-level=warn',
  ];
}

function apiServerFlags(
  file: WriteFile,
  pki: ControlPlanePki,
  caFile: string,
  { etcdClientPort, apiPort }: { etcdClientPort: number; apiPort: number },
): string[] {
  return [
    `--etcd-servers=http://127.0.0.1:${etcdClientPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${apiPort}`,
    `--tls-cert-file=${file('apiserver.crt', pki.serving.certPem)}`,
    `--tls-private-key-file=${file('apiserver.key', pki.serving.keyPem)}`,
    `--client-ca-file=${caFile}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${file('sa.pub', pki.serviceAccountKey.publicKeyPem)}`,
    `--service-account-signing-key-file=${file('sa.key', pki.serviceAccountKey.keyPem)}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--authorization-mode=RBAC',
    '--allow-privileged=true',
    '--profiling=false',
  ];
}

/** The controller-manager's and the scheduler's: the admin's kubeconfig for all, a port of their own, no leader election. */
async function clientFlags(kubeconfigPath: string): Promise<string[]> {
  return [
    `--kubeconfig=${kubeconfigPath}`,
    `--authentication-kubeconfig=${kubeconfigPath}`,
    `--authorization-kubeconfig=${kubeconfigPath}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${await freePort()}`,
    '--leader-elect=false',
  ];
}

async function controllerManagerFlags(kubeconfigPath: string, caFile: string, serviceAccountKeyFile: string): Promise<string[]> {
  return [
    ...(await clientFlags(kubeconfigPath)),
    `--service-account-private-key-file=${serviceAccountKeyFile}`,
    `--root-ca-file=${caFile}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    '--use-service-account-credentials=false',
  ];
}

function kwokFlags(
  file: WriteFile,
  pki: ControlPlanePki,
  { kubeconfigPath, kwokPort, podCidr }: { kubeconfigPath: string; kwokPort: number; podCidr: string },
): string[] {
  return [
    `--kubeconfig=${kubeconfigPath}`,
    `--config=${file('kwok-config.yaml', `${KWOK_STAGES}---\n${KWOK_RESOURCE_METRICS_CONFIG}`)}`,
    `--manage-nodes-with-annotation-selector=${NODE_ANNOTATION}=fake`,
    `--cidr=${podCidr}`,
    '--node-ip=127.0.0.1',
    // Heartbeats through node Leases, as kubelets send them: without them the node lifecycle
    // controller finds the nodes silent after its grace period and marks their pods not ready.
    '--node-lease-duration-seconds=40',
    `--server-address=127.0.0.1:${kwokPort}`,
    // The kubelets' /metrics/resource (kwok-metrics.ts), over TLS; kwok answers plain HTTP on the same port too.
    `--enable-crds=${KWOK_USAGE_KINDS.join(',')}`,
    // The kubelets' serving pair: any from the cluster CA for 127.0.0.1 (where kubelets get theirs
    // through serverTLSBootstrap); the API server's saves generating a key on every start.
    `--tls-cert-file=${file('kubelet.crt', pki.serving.certPem)}`,
    `--tls-private-key-file=${file('kubelet.key', pki.serving.keyPem)}`,
  ];
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
  await core.createNamespacedPod({
    namespace,
    body: { metadata: { name }, spec: { nodeName, containers: [{ name: 'pause', image: 'registry.k8s.io/pause:3.10' }] } },
  });
  await waitFor('KWOK to give its first pod an IP', deadline, processes, async () =>
    Boolean((await core.readNamespacedPod({ name, namespace })).status?.podIP),
  );
  await core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });
  await waitFor(
    'the first pod to go',
    deadline,
    processes,
    async () => !(await core.listNamespacedPod({ namespace })).items.some((pod) => pod.metadata?.name === name),
  );
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
