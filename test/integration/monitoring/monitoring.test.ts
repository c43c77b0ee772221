// manifests/monitoring/ against the real programs: every metric that the Grafana dashboard and the
// PrometheusRule read is one that ebb's programs export, as read from their /metrics while they
// run against a real control plane (the controller, an agent, the webhook, an interceptor); a
// selector that names a job reads a metric of that job's program; the rules pass `promtool check
// rules` and the alert tests in alerts.promtool.yaml (promtool built by `npm run cluster:build`);
// and each monitor points at a port the program really serves.
//
// What a program exports is what its /metrics declares: prom-client writes `# HELP` and `# TYPE`
// for every metric registered, with samples or not, so a metric that only moves after activity (an
// eviction, a wake-up, an OOM kill) is declared from the first scrape. The test reads the `# TYPE`
// lines of the real scrape, which is the programs' own word, and drives no activity. A histogram
// `x` is the series `x_bucket`, `x_sum` and `x_count`.

import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { CoreV1Api } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { locateAssets } from '../../../src/localcluster/assets.ts';
import { locateTool } from '../../../src/localcluster/tools.ts';
import { ADMIN_PORT_NAME } from '../../../src/protocol/sidecar.ts';
import { crdsEstablished, createNamespace, serviceAccountToken } from '../../fixtures/cluster-support.ts';
import { useControlPlane } from '../../fixtures/control-plane.ts';
import { startController } from '../../fixtures/controller.ts';
import { closeServer, killAll, request, startApp, startClusterAgent, startInterceptor } from '../../fixtures/processes.ts';
import { startWebhook, type Webhook } from '../../fixtures/webhook.ts';
import { metricsUsed, type MetricUse } from './promql.ts';

const MONITORING = resolve(import.meta.dirname, '../../../manifests/monitoring');
const runFile = promisify(execFile);

/** Series Prometheus writes for every target itself; not any program's export. */
const PROMETHEUS_OWN = new Set(['up']);

interface KubeObject {
  kind: string;
  metadata: { name: string };
  spec: Record<string, unknown>;
  data?: Record<string, string>;
}

/** The series names a /metrics text declares, from its `# TYPE` lines. */
function declaredSeries(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(`${name}${suffix}`);
    else names.add(name!);
  }
  return names;
}

function httpsGet(port: number, path: string, caPem: string): Promise<string> {
  return new Promise((done, fail) => {
    https
      .get({ host: '127.0.0.1', port, path, ca: caPem, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => (res.statusCode === 200 ? done(body) : fail(new Error(`GET ${path}: ${res.statusCode}`))));
      })
      .on('error', fail);
  });
}

async function render(): Promise<KubeObject[]> {
  const { stdout } = await runFile(locateAssets().kubectl, ['kustomize', MONITORING], { maxBuffer: 16 * 2 ** 20 });
  return parseAllDocuments(stdout).map((document) => document.toJS() as KubeObject);
}

interface Panel {
  title?: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

/** Every PromQL expression of the dashboard: its panels' queries and its variables' queries. */
function dashboardExpressions(dashboard: { panels: Panel[]; templating: { list: { query?: string | { query: string } }[] } }): string[] {
  const panels = (list: Panel[]): Panel[] => list.flatMap((panel) => [panel, ...panels(panel.panels ?? [])]);
  const queries = panels(dashboard.panels).flatMap((panel) => (panel.targets ?? []).map((target) => target.expr ?? ''));
  const variables = dashboard.templating.list
    .map((variable) => (typeof variable.query === 'object' ? variable.query.query : ''))
    // label_values(<selector>, <label>): the label is not a metric.
    .map((query) => query.replace(/^label_values\((.*),\s*\w+\)$/, '$1'))
    .filter((query) => query !== '');
  return [...queries, ...variables];
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}

describe('monitoring (manifests/monitoring)', function () {
  this.timeout(120_000);
  const controlPlane = useControlPlane({ nodes: 1 });
  let objects: KubeObject[];
  /** Series names by job: each job is a program's Service name, as the monitors leave it. */
  const exported = new Map<string, Set<string>>();
  let webhook: Webhook | undefined;
  let app: http.Server | undefined;

  before(async function () {
    this.timeout(120_000);
    objects = await render();
    const { kubeConfig, kubeconfigPath, nodeNames } = controlPlane();
    const core = kubeConfig.makeApiClient(CoreV1Api);
    await createNamespace(core, 'ebb-system');
    const controller = await startController(controlPlane(), 'ebb-controller-0', await serviceAccountToken(kubeConfig, 'ebb-system', 'ebb-controller'));
    const agent = await startClusterAgent(kubeconfigPath, nodeNames[0]!);
    webhook = await startWebhook(controlPlane(), { register: false });
    // The interceptor's app: it serves nothing here, but the interceptor needs somewhere to forward.
    app = await startApp(0, 0);
    const interceptor = await startInterceptor((app.address() as AddressInfo).port);
    const scrape = async (port: number) => (await request(port, '/metrics')).body;
    exported.set('ebb-controller', declaredSeries(await scrape(controller.ready.port)));
    exported.set('ebb-agent', declaredSeries(await scrape(agent.ready.activity)));
    exported.set('ebb-webhook', declaredSeries(await httpsGet(webhook.port, '/metrics', webhook.caPem)));
    exported.set('ebb-interceptor', declaredSeries(await scrape(interceptor.ready.admin)));
  });

  after(async function () {
    this.timeout(30_000);
    await killAll();
    await webhook?.stop();
    await closeServer(app);
  });

  const one = (kind: string, name: string): KubeObject => {
    const found = objects.filter((object) => object.kind === kind && object.metadata.name === name);
    expect(found, `${kind} ${name}`).to.have.length(1);
    return found[0]!;
  };
  const rules = (): Rule[] => (one('PrometheusRule', 'ebb').spec.groups as { rules: Rule[] }[]).flatMap((group) => group.rules);
  const dashboard = () => JSON.parse(one('ConfigMap', 'ebb-dashboard').data!['dashboard.json']!) as Parameters<typeof dashboardExpressions>[0];

  it('reads metric names out of PromQL, and only those', () => {
    expect(metricsUsed('histogram_quantile(0.99, sum by (le) (rate(a_bucket{job="x", le!="1"}[5m]))) > 1e3 and on (pod) group_left b offset 5m')).to.deep.equal(
      [{ name: 'a_bucket', job: 'x' }, { name: 'b' }],
    );
    expect(metricsUsed('(sum(c{job="y"}) or vector(0)) < 1 unless absent(up{job="z"} == 1)')).to.deep.equal([
      { name: 'c', job: 'y' },
      { name: 'up', job: 'z' },
    ]);
    expect(metricsUsed('max by (ns) (d{ns=~"$namespace"}) - rate(e[$__rate_interval])')).to.deep.equal([{ name: 'd' }, { name: 'e' }]);
  });

  it('scraped every program, and each exports metrics of its own', () => {
    for (const [job, names] of exported)
      expect(
        [...names].filter((name) => name.startsWith('ebb_')),
        job,
      ).to.have.length.greaterThan(0);
  });

  function unknown(uses: { where: string; use: MetricUse }[]): string[] {
    const everywhere = new Set([...exported.values()].flatMap((names) => [...names]));
    return uses.flatMap(({ where, use }) => {
      if (PROMETHEUS_OWN.has(use.name)) return use.job === undefined || exported.has(use.job) ? [] : [`${where}: job "${use.job}" is no program's`];
      if (use.job !== undefined) {
        const names = exported.get(use.job);
        if (!names) return [`${where}: job "${use.job}" is no program's`];
        return names.has(use.name) ? [] : [`${where}: ${use.name} is not exported by ${use.job}`];
      }
      return everywhere.has(use.name) ? [] : [`${where}: ${use.name} is exported by no program`];
    });
  }

  it('alerts only on metrics the programs export, each from the job it names', () => {
    const uses = rules().flatMap((rule) => metricsUsed(rule.expr).map((use) => ({ where: rule.alert ?? rule.record ?? '?', use })));
    expect(uses.length).to.be.greaterThan(10);
    expect(unknown(uses)).to.deep.equal([]);
  });

  it('charts only metrics the programs export, each from the job it names', () => {
    const expressions = dashboardExpressions(dashboard());
    const uses = expressions.flatMap((expression) => metricsUsed(expression).map((use) => ({ where: expression, use })));
    expect(uses.length).to.be.greaterThan(30);
    expect(unknown(uses)).to.deep.equal([]);
  });

  it("lays the dashboard out on Grafana's grid: unique ids, 24 columns, no overlap, every panel on the data source variable", () => {
    type Laid = Panel & { id: number; type: string; gridPos: { x: number; y: number; w: number; h: number }; datasource?: { uid: string } };
    const { panels, templating } = dashboard() as unknown as { panels: Laid[]; templating: { list: { name: string }[] } };
    expect(new Set(panels.map((panel) => panel.id)).size).to.equal(panels.length);
    const overlaps = (a: Laid['gridPos'], b: Laid['gridPos']) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
    for (const [i, panel] of panels.entries()) {
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).to.be.at.most(24);
      for (const other of panels.slice(i + 1)) expect(overlaps(panel.gridPos, other.gridPos), `${panel.title} / ${other.title}`).to.equal(false);
      if (panel.type !== 'row') expect(panel.datasource?.uid, panel.title).to.equal('${datasource}');
    }
    const variables = templating.list.map((variable) => variable.name);
    const used = new Set(JSON.stringify(panels).match(/\$(?!__)\w+/g));
    for (const name of used) expect(variables, `${name} is used`).to.include(name.slice(1));
  });

  it('alerts on webhook errors and latency, no controller leader, an agent down, failing wake-ups and blocked evictions', () => {
    const alerts = rules().map((rule) => rule.alert);
    expect(alerts).to.include.members([
      'EbbWebhookErrors',
      'EbbWebhookSlow',
      'EbbNoControllerLeader',
      'EbbAgentDown',
      'EbbWakeUpsFailing',
      'EbbEvictionsBlocked',
    ]);
    for (const rule of rules())
      expect(Object.keys((rule as { annotations?: object }).annotations ?? {}), rule.alert).to.include.members(['summary', 'description']);
  });

  it('passes promtool check rules, and the alerts fire when and only when alerts.promtool.yaml says (promtool test rules)', async () => {
    // The rules as Prometheus reads them: the PrometheusRule's groups, beside the tests that name them.
    const dir = controlPlane().workDir;
    writeFileSync(join(dir, 'ebb-rules.yaml'), stringify({ groups: one('PrometheusRule', 'ebb').spec.groups }));
    copyFileSync(join(import.meta.dirname, 'alerts.promtool.yaml'), join(dir, 'alerts.promtool.yaml'));
    const promtool = locateTool('promtool');
    expect((await runFile(promtool, ['check', 'rules', join(dir, 'ebb-rules.yaml')])).stdout).to.match(/SUCCESS: \d+ rules found/);
    const tested = await runFile(promtool, ['test', 'rules', join(dir, 'alerts.promtool.yaml')]).catch((error: { stdout?: string; stderr?: string }) => error);
    expect(`${tested.stdout ?? ''}${tested.stderr ?? ''}`)
      .to.match(/SUCCESS/)
      .and.not.match(/FAILED/);
  });

  it("is accepted by a real API server with the Prometheus Operator's CRDs (v0.93.0, in crds/), every field known", async () => {
    const kubectl = (args: string[]) =>
      runFile(locateAssets().kubectl, args, { env: { ...process.env, KUBECONFIG: controlPlane().kubeconfigPath }, maxBuffer: 16 * 2 ** 20 });
    await kubectl(['apply', '--server-side', '-f', join(import.meta.dirname, 'crds')]);
    await crdsEstablished(controlPlane().kubeConfig);
    const file = join(controlPlane().workDir, 'monitoring.yaml');
    writeFileSync(file, (await runFile(locateAssets().kubectl, ['kustomize', MONITORING], { maxBuffer: 16 * 2 ** 20 })).stdout);
    // Strict field validation: a field the CRD's schema does not know is an error, not dropped.
    const { stdout } = await kubectl(['apply', '--server-side', '--validate=strict', '-f', file]);
    expect(stdout.trim().split('\n')).to.have.length(objects.length);
    const webhookMonitor = JSON.parse((await kubectl(['get', 'servicemonitor', 'ebb-webhook', '-n', 'ebb-system', '-o', 'json'])).stdout) as KubeObject;
    expect(webhookMonitor.spec).to.deep.equal(one('ServiceMonitor', 'ebb-webhook').spec);
  });

  it("monitors each program on a port it serves /metrics on: the base's Services, and the sidecar's admin port", () => {
    const base = (file: string) =>
      parseAllDocuments(readFileSync(resolve(MONITORING, '..', file), 'utf8')).map(
        (document) => document.toJS() as KubeObject & { metadata: { labels: Record<string, string> } },
      );
    for (const program of ['controller', 'webhook', 'agent']) {
      const service = base(`${program}/service.yaml`).find((object) => object.kind === 'Service')!;
      const monitor = one('ServiceMonitor', `ebb-${program}`).spec as { selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] };
      expect(service.metadata.labels, program).to.include(monitor.selector.matchLabels);
      const ports = (service.spec.ports as { name: string }[]).map((port) => port.name);
      expect(ports, program).to.include.members(monitor.endpoints.map((endpoint) => endpoint.port));
    }
    const interceptor = one('PodMonitor', 'ebb-interceptor').spec as { podMetricsEndpoints: { port: string }[] };
    expect(interceptor.podMetricsEndpoints.map((endpoint) => endpoint.port)).to.deep.equal([ADMIN_PORT_NAME]);
    // Grafana's sidecar finds the dashboard by this label.
    expect((one('ConfigMap', 'ebb-dashboard').metadata as { labels?: Record<string, string> }).labels).to.include({ grafana_dashboard: '1' });
  });
});
