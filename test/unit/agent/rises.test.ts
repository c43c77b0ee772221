// The agent's GET /activity/rises and the controller's open questions (AgentRises), both real,
// talking over loopback with static tokens.

import { expect } from 'chai';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createActivityServer } from '../../../agent/node/activity-server.ts';
import { RiseFeed } from '../../../agent/node/rise-feed.ts';
import { usageUnavailable } from '../../../agent/node/usage-collector.ts';
import { AgentRises } from '../../../src/controller/rises.ts';
import { CachingTokenVerifier, StaticTokenVerifier } from '../../../src/protocol/auth.ts';
import type { RiseReport, WorkloadTotals } from '../../../src/protocol/activity.ts';
import type { WorkloadKey } from '../../../src/protocol/workload.ts';
import { closeServer, CONTROLLER_TOKEN } from '../../fixtures/processes.ts';
import { eventually } from '../../fixtures/wait.ts';

const CONTROLLER_IDENTITY = 'system:serviceaccount:ebb-system:ebb-controller';
const totals = (workload: WorkloadKey, inFlight: number): WorkloadTotals => ({
  workload,
  inFlight,
  meanInFlight: inFlight,
  requestRate: 1,
  lastRequestAt: 1,
  held: 0,
  stalePods: 0,
});

describe('rises: the agent tells the controller when load rises', () => {
  let server: Server;
  let url: string;
  let feed: RiseFeed;
  let workloads: WorkloadTotals[];

  beforeEach(async () => {
    feed = new RiseFeed('node-1');
    workloads = [totals('shop/web', 2)];
    server = createActivityServer({
      activity: () => ({ node: 'node-1', generatedAt: 1, windowMs: 10_000, workloads: workloads.map((w) => ({ ...w, pods: [] })) }),
      usage: () => usageUnavailable('node-1', 'static', 1),
      rises: feed,
      verifier: new CachingTokenVerifier(
        new StaticTokenVerifier({ [CONTROLLER_TOKEN]: CONTROLLER_IDENTITY, 'agent-token': 'system:serviceaccount:ebb-system:ebb-agent' }),
      ),
      allowedIdentity: CONTROLLER_IDENTITY,
      metrics: new Registry(),
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    feed.close();
    await closeServer(server);
  });

  const ask = (path: string, token = CONTROLLER_TOKEN) => fetch(`${url}${path}`, { headers: { Authorization: `Bearer ${token}` } });

  it('refuses a malformed question, naming the parameter, the value and what is accepted; and anyone but the controller', async () => {
    const bad = await ask('/activity/rises?since=-1');
    expect([bad.status, await bad.text()]).to.deep.equal([400, 'since: "-1" is not a sequence (a whole number, 0 or more)\n']);
    const long = await ask('/activity/rises?waitMs=600000');
    expect([long.status, await long.text()]).to.deep.equal([400, 'waitMs: "600000" is not a wait in ms (a whole number from 0 to 60000)\n']);
    expect((await ask('/activity/rises?waitMs=0', 'agent-token')).status).to.equal(403);
  });

  it('answers a first question at once; holds the next until a rise measured from the last /activity read', async () => {
    const first = (await (await ask('/activity/rises?waitMs=0')).json()) as RiseReport;
    expect(first).to.deep.equal({ node: 'node-1', sequence: 0, workloads: [] });
    await ask('/activity?pods=false');
    const held = ask('/activity/rises?since=0&waitMs=30000').then(async (response) => (await response.json()) as RiseReport);
    feed.observe([totals('shop/web', 3)]); // x1.5 of what was read: not a rise
    workloads = [totals('shop/web', 5)];
    feed.observe(workloads);
    expect(await held).to.deep.equal({ node: 'node-1', sequence: 1, workloads: ['shop/web'] });
  });

  it('answers a held question with nothing new when its wait is over', async () => {
    const answer = (await (await ask('/activity/rises?since=0&waitMs=20')).json()) as RiseReport;
    expect(answer).to.deep.equal({ node: 'node-1', sequence: 0, workloads: [] });
  });

  it("the controller's AgentRises: told of a rise, not of the first answer; a stopped question is not asked again", async () => {
    const told: RiseReport[] = [];
    const failures: string[] = [];
    const rises = new AgentRises({
      token: () => Promise.resolve(CONTROLLER_TOKEN),
      onRise: (report) => told.push(report),
      onFailure: (_url, error) => failures.push(error),
      waitMs: 30_000,
    });
    try {
      await ask('/activity?pods=false');
      rises.follow([url]);
      // The first answer comes at once and is no rise; the second question is held until one.
      await eventually('a question held', () => (feed.openQuestions === 1 ? true : undefined), 5_000, 10);
      expect(told).to.deep.equal([]);
      feed.observe([totals('shop/web', 9)]);
      await eventually('the rise told', () => (told.length > 0 ? true : undefined), 5_000, 10);
      expect(told).to.deep.equal([{ node: 'node-1', sequence: 1, workloads: ['shop/web'] }]);
      await eventually('the next question held', () => (feed.openQuestions === 1 ? true : undefined), 5_000, 10);
      rises.follow([]);
      await eventually('no question left open', () => (feed.openQuestions === 0 ? true : undefined), 5_000, 10);
      expect(failures, 'a question ended by the controller is not a failure').to.deep.equal([]);
    } finally {
      rises.stop();
    }
  });

  it('AgentRises tells a failing agent once, by URL and what it answered, and asks again after a pause', async () => {
    const failures: string[] = [];
    let asked = 0;
    const refusing = createServer((_req, res) => (asked++, res.writeHead(403).end('forbidden')));
    refusing.listen(0, '127.0.0.1');
    await once(refusing, 'listening');
    const at = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`;
    const rises = new AgentRises({
      token: () => Promise.resolve(CONTROLLER_TOKEN),
      onRise: () => undefined,
      onFailure: (agent, error) => failures.push(`${agent}: ${error}`),
      retryMs: 10,
    });
    try {
      rises.follow([at]);
      await eventually('asked three times', () => (asked >= 3 ? true : undefined), 5_000, 10);
      expect(failures).to.deep.equal([`${at}: ${at}/activity/rises?waitMs=25000 answered 403: forbidden`]);
    } finally {
      rises.stop();
      await closeServer(refusing);
    }
  });
});
