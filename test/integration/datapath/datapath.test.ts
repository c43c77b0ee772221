// The data path with real processes on loopback: a real app server, the interceptor and the
// agent started as programs, real HTTP between them. Loads are small (2 cores, shared machine)
// and bounded in time and count.

import { expect } from 'chai';
import type http from 'node:http';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ActivityReport } from '../../../src/protocol/activity.ts';
import type { WakeRequest } from '../../../src/protocol/wake.ts';
import { closedLoop } from '../../fixtures/load.ts';
import { CONTROLLER_TOKEN, closeServer, freePort, killAll, request, startAgent, startApp, startInterceptor } from '../../fixtures/processes.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function activity(agentPort: number): Promise<ActivityReport> {
  const reply = await request(agentPort, '/activity', { Authorization: `Bearer ${CONTROLLER_TOKEN}` });
  expect(reply.status, reply.body).to.equal(200);
  return JSON.parse(reply.body) as ActivityReport;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('data path (real processes on loopback)', function () {
  this.timeout(60_000);
  const servers: http.Server[] = [];
  afterEach(async () => {
    await killAll();
    await Promise.all(servers.splice(0).map(closeServer));
  });

  it('the agent reports the mean in-flight that Little’s law predicts from the client’s view (±5 %)', async () => {
    const appPort = await freePort();
    servers.push(await startApp(appPort, 40));
    const interceptor = await startInterceptor(appPort);
    const listenPort = Number(interceptor.ready.listen.split(':').at(-1));
    const agent = await startAgent({ EBB_STATIC_TARGETS: `127.0.0.1:${interceptor.ready.admin}`, EBB_WINDOW_MS: '2000' });

    // Load for 3.5 s; read the agent at 3.2 s, when its 2 s window lies wholly inside the load.
    const load = closedLoop(listenPort, { concurrency: 6, durationMs: 3_500, maxRequests: 2_000 });
    await sleep(3_200);
    const report = await activity(agent.ready.activity);
    const result = await load;

    expect(result.errors.size, JSON.stringify([...result.errors])).to.equal(0);
    const arrivalRate = result.answered / (result.durationMs / 1000);
    const meanLatencySeconds = result.latenciesMs.reduce((a, b) => a + b, 0) / result.latenciesMs.length / 1000;
    const littlesLaw = arrivalRate * meanLatencySeconds;
    const workload = report.workloads.find((w) => w.workload === 'shop/app');
    expect(workload, JSON.stringify(report)).to.not.equal(undefined);
    expect(workload!.stalePods).to.equal(0);
    expect(workload!.meanInFlight).to.be.closeTo(littlesLaw, littlesLaw * 0.05);
    expect(workload!.requestRate).to.be.closeTo(arrivalRate, arrivalRate * 0.1);
  });

  it('SIGTERM to the interceptor under load: every request sent is answered 2xx, then it exits 0', async () => {
    const appPort = await freePort();
    servers.push(await startApp(appPort, 30));
    const interceptor = await startInterceptor(appPort, { EBB_DRAIN_SECONDS: '10' });
    const listenPort = Number(interceptor.ready.listen.split(':').at(-1));

    const load = closedLoop(listenPort, { concurrency: 8, durationMs: 3_000, maxRequests: 3_000 });
    await sleep(1_000);
    interceptor.child.kill('SIGTERM');
    const [result, [exitCode]] = await Promise.all([load, once(interceptor.child, 'exit') as Promise<[number | null]>]);

    expect(exitCode).to.equal(0);
    expect(result.answered).to.be.greaterThan(50);
    expect([...result.statuses.keys()]).to.deep.equal([200]);
    // After the drain began, new connections are refused (nothing is sent on them);
    // no request that reached the interceptor may fail.
    const otherErrors = [...result.errors].filter(([code]) => code !== 'ECONNREFUSED');
    expect(otherErrors, JSON.stringify(otherErrors)).to.deep.equal([]);
    expect(result.sent - result.answered).to.equal(result.errors.get('ECONNREFUSED') ?? 0);
  });

  describe('activator', () => {
    let tokenDir: string;
    before(() => {
      tokenDir = mkdtempSync(join(tmpdir(), 'ebb-agent-token-'));
      writeFileSync(join(tokenDir, 'token'), 'agent-token\n');
    });
    after(() => rmSync(tokenDir, { recursive: true, force: true }));

    it('holds concurrent requests for a sleeping workload, wakes it once, and forwards each exactly once in arrival order', async () => {
      const wakes: { body: WakeRequest; authorization: string | undefined }[] = [];
      const controllerPort = await freePort();
      servers.push(
        await startApp(controllerPort, 0, (req) => {
          let body = '';
          req.on('data', (chunk: Buffer) => (body += chunk.toString()));
          req.on('end', () => wakes.push({ body: JSON.parse(body) as WakeRequest, authorization: req.headers.authorization }));
        }),
      );
      const appPort = await freePort();
      const agent = await startAgent({
        EBB_STATIC_BACKENDS: `shop/sleepy=127.0.0.1:${appPort}`,
        EBB_CONTROLLER_URL: `http://127.0.0.1:${controllerPort}`,
        EBB_TOKEN_FILE: join(tokenDir, 'token'),
      });
      const activatorPort = agent.ready.activator;

      const held = 20;
      const replies: Promise<Awaited<ReturnType<typeof request>>>[] = [];
      for (let i = 0; i < held; i += 1) {
        replies.push(request(activatorPort, `/r/${i}`, { 'X-Ebb-Workload': 'shop/sleepy', 'X-Request-Id': String(i) }));
        // Arrival order is what the activator must keep: let each request arrive before the next.
        await until(`request ${i} held`, async () => ((await activity(agent.ready.activity)).workloads.find((w) => w.workload === 'shop/sleepy')?.held === i + 1 ? true : undefined));
      }
      // A client that gives up while held must never reach the app.
      const abandon = new AbortController();
      const abandoned = request(activatorPort, '/abandoned', { 'X-Ebb-Workload': 'shop/sleepy', 'X-Request-Id': 'abandoned' }, false, abandon.signal).catch(() => 'aborted');
      await until('abandoned request held', async () => ((await activity(agent.ready.activity)).workloads.find((w) => w.workload === 'shop/sleepy')?.held === held + 1 ? true : undefined));
      abandon.abort();
      expect(await abandoned).to.equal('aborted');
      await until('abandoned request dropped', async () => ((await activity(agent.ready.activity)).workloads.find((w) => w.workload === 'shop/sleepy')?.held === held ? true : undefined));

      const seen: string[] = [];
      servers.push(await startApp(appPort, 5, (req) => seen.push(String(req.headers['x-request-id']))));
      const answers = await Promise.all(replies);

      expect(answers.map((a) => a.status)).to.deep.equal(Array(held).fill(200));
      expect(answers.map((a) => a.body)).to.deep.equal(answers.map((_, i) => `ok ${i}`));
      expect(seen).to.deep.equal(answers.map((_, i) => String(i)));
      expect(wakes).to.have.length(1);
      expect(wakes[0]?.body).to.include({ workload: 'shop/sleepy', node: 'static' });
      expect(wakes[0]?.authorization).to.equal('Bearer agent-token');
    });

    it('answers 503 with Retry-After at the deadline, and at once over the cap', async () => {
      const downPort = await freePort();
      const agent = await startAgent({ EBB_STATIC_BACKENDS: `shop/down=127.0.0.1:${downPort}`, EBB_HOLD_DEADLINE_MS: '800', EBB_HOLD_MAX_REQUESTS_PER_WORKLOAD: '3' });
      const headers = { 'X-Ebb-Workload': 'shop/down' };

      const started = performance.now();
      const deadlined = await request(agent.ready.activator, '/', headers);
      expect(deadlined.status).to.equal(503);
      expect(deadlined.headers['retry-after']).to.equal('1');
      expect(performance.now() - started).to.be.within(700, 2_000);

      const heldThree = [0, 1, 2].map(() => request(agent.ready.activator, '/', headers));
      await until('three held', async () => ((await activity(agent.ready.activity)).workloads.find((w) => w.workload === 'shop/down')?.held === 3 ? true : undefined));
      const overCapStarted = performance.now();
      const overCap = await request(agent.ready.activator, '/', headers);
      expect(overCap.status).to.equal(503);
      expect(overCap.headers['retry-after']).to.equal('1');
      expect(overCap.body).to.match(/cap 3/);
      expect(performance.now() - overCapStarted).to.be.below(200);
      expect((await Promise.all(heldThree)).map((r) => r.status)).to.deep.equal([503, 503, 503]);
    });

    it('refuses /activity without a token (401) and for another identity (403)', async () => {
      const agent = await startAgent({ EBB_STATIC_TOKENS: `${CONTROLLER_TOKEN}=system:serviceaccount:ebb-system:ebb-controller,other=system:serviceaccount:shop:default` });
      expect((await request(agent.ready.activity, '/activity')).status).to.equal(401);
      expect((await request(agent.ready.activity, '/activity', { Authorization: 'Bearer wrong' })).status).to.equal(401);
      expect((await request(agent.ready.activity, '/activity', { Authorization: 'Bearer other' })).status).to.equal(403);
      expect((await request(agent.ready.activity, '/activity', { Authorization: `Bearer ${CONTROLLER_TOKEN}` })).status).to.equal(200);
    });
  });
});
