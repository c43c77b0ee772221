// The local sandbox (`npm start`) for the user's own workloads, on the real control plane with
// ebb's real webhook, agents and controller: a Deployment and a multi-port Service applied in a
// fresh opted-in namespace get a loopback port per Service port from the sandbox's kube-proxy;
// requests through them reach the stand-in app through the real interceptor; the workload sleeps
// to zero, each port then goes to the activator port ebb's slice gives that port's name, and a
// request through a local port wakes it; its app containers get KWOK usage, so ebb recommends
// requests; `kubectl ebb status` shows the local URLs; deleting the Service closes its ports.
import { execFile } from 'node:child_process';
import http from 'node:http';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { CustomObjectsApi, DiscoveryV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { activatorSliceName, readActivatorSlice } from '../../../src/core/activator-slice.ts';
import { LOCAL_URL_ANNOTATION } from '../../../src/core/report/local-urls.ts';
import { parseMemory } from '../../../src/core/quantity.ts';
import { readStatus } from '../../../src/core/status.ts';
import { demoDeployment } from '../../../src/localcluster/demo/demo.ts';
import { startEbb, type RunningEbb } from '../../../src/localcluster/ebb.ts';
import { createKwokObject, resourceUsage } from '../../../src/localcluster/kwok-metrics.ts';
import { DEFAULT_USAGE_NAME } from '../../../src/localcluster/sandbox/default-usage.ts';
import { startSandboxWorkloads, type SandboxWorkloads } from '../../../src/localcluster/sandbox/workloads.ts';
import { createNamespace, useCluster } from '../../fixtures/cluster-support.ts';
import { eventually } from '../../fixtures/control-plane.ts';

const REPO = resolve(import.meta.dirname, '../../..');
const runFile = promisify(execFile);
const MI = 2 ** 20;

/** One answer through a local port: status and body, or the connection's error code. */
function get(url: string, timeoutMs = 30_000): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((done) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res
        .setEncoding('utf8')
        .on('data', (chunk: string) => (body += chunk))
        .on('end', () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error: NodeJS.ErrnoException) => done({ error: error.code ?? error.message }));
  });
}

const app = (name: string) => ({ name: 'app', image: `registry.example/${name}:1` });

describe("the local sandbox serves the user's own workloads", function () {
  this.timeout(180_000);
  // Pod IPs apart from other control planes on this machine: the sandbox binds to them.
  const { controlPlane, core, apps } = useCluster({ nodes: 1, podCidr: `127.${100 + (process.pid % 100)}.0.0/16` });
  const namespace = `own-${process.pid}`;
  const lines: string[] = [];
  let ebb: RunningEbb | undefined;
  let sandbox: SandboxWorkloads | undefined;

  before(async function () {
    this.timeout(120_000);
    ebb = await startEbb(controlPlane());
    sandbox = await startSandboxWorkloads(controlPlane(), ebb, (line) => lines.push(line));
    await createNamespace(core, namespace);
    await core.patchNamespace(
      { name: namespace, body: { metadata: { labels: { 'ebb.dev/injection': 'enabled' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    // Asleep after 4 s without a request; a Service with two ports, both through the interceptor.
    await apps.createNamespacedDeployment({ namespace, body: demoDeployment('web', { 'ebb.dev/min-replicas': '0', 'ebb.dev/idle-after': '4s' }, app('web')) });
    await core.createNamespacedService({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: {
          selector: { app: 'web' },
          ports: [
            { name: 'http', port: 80, targetPort: 'http' },
            { name: 'alt', port: 8080, targetPort: 'http' },
          ],
        },
      },
    });
    // Always up, for its usage: the sandbox's default ClusterResourceUsage covers it.
    await apps.createNamespacedDeployment({ namespace, body: demoDeployment('worker', { 'ebb.dev/min-replicas': '1' }, app('worker')) });
  });

  after(async function () {
    this.timeout(60_000);
    await sandbox?.stop();
    await ebb?.stop();
  });

  const localUrl = (service: string, port: number) => sandbox!.proxy.localPorts(namespace, service).find((local) => local.servicePort.port === port)?.url;

  it('gives each Service port a local port, prints it, records it on the Service, and reaches the app through the interceptor', async () => {
    const { http80, alt8080 } = await eventually(
      'local ports for both ports of the Service',
      () => {
        const [http80, alt8080] = [localUrl('web', 80), localUrl('web', 8080)];
        return http80 && alt8080 ? { http80, alt8080 } : undefined;
      },
      90_000,
    );
    expect(lines).to.include(`${namespace}/web:80 → curl ${http80}`);
    expect(lines).to.include(`${namespace}/web:8080 → curl ${alt8080}`);
    const annotation = await eventually(
      'the local URLs on the Service',
      async () => (await core.readNamespacedService({ name: 'web', namespace })).metadata?.annotations?.[LOCAL_URL_ANNOTATION],
    );
    expect(annotation).to.equal(`80=${http80} 8080=${alt8080}`);
    for (const url of [http80, alt8080]) {
      const answer = await eventually(`200 through ${url}`, async () => {
        const got = await get(url);
        return 'status' in got && got.status === 200 ? got : undefined;
      });
      expect(answer.body).to.match(new RegExp(`^hello from ${namespace}/web-`));
    }
    // Through the interceptor: it counted the requests, so ebb saw them.
    await eventually(
      "a last request in the workload's status",
      async () => {
        const current = await apps.readNamespacedDeployment({ name: 'web', namespace });
        return readStatus(current.metadata?.annotations?.['ebb.dev/status'])?.lastRequestAt ? true : undefined;
      },
      30_000,
    );
  });

  it('sleeps to zero, routes each Service port to its own activator port, and wakes on a request through a local port', async () => {
    const discovery = controlPlane().kubeConfig.makeApiClient(DiscoveryV1Api);
    await eventually(
      'web scaled to zero with its activator slice',
      async () => {
        const current = await apps.readNamespacedDeployment({ name: 'web', namespace });
        return current.spec?.replicas === 0 && sandbox!.proxy.routesToActivator(namespace, 'web') ? true : undefined;
      },
      60_000,
    );
    const slice = readActivatorSlice(await discovery.readNamespacedEndpointSlice({ name: activatorSliceName('web'), namespace }))!;
    expect([...slice.ports.keys()].sort()).to.deep.equal(['alt', 'http']);
    expect(slice.ports.get('alt')).not.to.equal(slice.ports.get('http'));
    const proxy = sandbox!.proxy.proxy(namespace, 'web')!;
    for (const name of ['http', 'alt']) expect(proxy.target(name), name).to.deep.include({ port: slice.ports.get(name), via: 'activator' });
    // The request is held by the activator until a pod serves, then answered by it.
    const woken = await get(localUrl('web', 8080)!, 60_000);
    expect(woken).to.deep.include({ status: 200 });
    expect((woken as { body: string }).body).to.match(new RegExp(`^hello from ${namespace}/web-`));
    expect((await apps.readNamespacedDeployment({ name: 'web', namespace })).spec?.replicas).to.be.at.least(1);
  });

  it("gives the app containers KWOK usage, so ebb recommends requests from it; a ResourceUsage of the pod's own overrides it", async () => {
    const { kubeConfig } = controlPlane();
    const usage = (await kubeConfig
      .makeApiClient(CustomObjectsApi)
      .getClusterCustomObject({ group: 'kwok.x-k8s.io', version: 'v1alpha1', plural: 'clusterresourceusages', name: DEFAULT_USAGE_NAME })) as {
      spec: { selector: { matchNamespaces: string[] } };
    };
    expect(usage.spec.selector.matchNamespaces).to.include(namespace);
    const recommendedMemory = async () => {
      const current = await apps.readNamespacedDeployment({ name: 'worker', namespace });
      const status = readStatus(current.metadata?.annotations?.['ebb.dev/status']);
      const memory = (status?.recommendation as { containers?: Record<string, { memory?: string }> } | undefined)?.containers?.app?.memory;
      const bytes = memory === undefined ? undefined : parseMemory(memory);
      return bytes?.ok ? bytes.value : undefined;
    };
    // The default: 48-52Mi, and the recommendation's margins over it.
    expect(await eventually("a recommendation for worker's app container", recommendedMemory, 90_000)).to.be.below(200 * MI);
    const pod = (await core.listNamespacedPod({ namespace, labelSelector: 'app=worker' })).items[0]!;
    await createKwokObject(
      kubeConfig,
      resourceUsage(namespace, pod.metadata!.name!, [{ containers: ['app'], usage: { cpu: { value: '30m' }, memory: { value: '400Mi' } } }]),
    );
    await eventually("a recommendation raised to the pod's own usage", async () => (((await recommendedMemory()) ?? 0) >= 400 * MI ? true : undefined), 90_000);
  });

  it('kubectl ebb status shows the local URLs', async () => {
    const { stdout } = await runFile(process.execPath, ['--import', 'tsx', join(REPO, 'src/cli/kubectl-ebb/main.ts'), 'status', '-n', namespace], {
      cwd: REPO,
      env: { ...process.env, KUBECONFIG: controlPlane().kubeconfigPath },
      timeout: 60_000,
    });
    const [header, ...rows] = stdout.split('\n');
    expect(header).to.match(/\sLOCAL-URL$/);
    const row = (name: string) => rows.find((line) => new RegExp(`^${namespace}\\s+${name}\\s`).test(line));
    const web = row('web');
    expect(web).to.contain(`web:80 ${localUrl('web', 80)}, web:8080 ${localUrl('web', 8080)}`);
    expect(row('worker')).to.match(/\s-$/);
  });

  it("closes a Service's ports when the Service goes", async () => {
    const urls = [localUrl('web', 80)!, localUrl('web', 8080)!];
    await core.deleteNamespacedService({ name: 'web', namespace });
    await eventually('the closing lines', () =>
      lines.includes(`${namespace}/web:80 closed: the Service is gone`) && lines.includes(`${namespace}/web:8080 closed: the Service is gone`)
        ? true
        : undefined,
    );
    for (const url of urls) expect(await get(url)).to.deep.equal({ error: 'ECONNREFUSED' });
    expect(sandbox!.proxy.localPorts(namespace, 'web')).to.deep.equal([]);
  });
});
