import { expect } from 'chai';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { collectActivity, collectUsage, StaticAgentDirectory } from '../../../src/controller/agents.ts';
import { ACTIVITY_COLUMNS_PATH } from '../../../src/protocol/activity.ts';
import { eventually } from '../../fixtures/wait.ts';

/** A stand-in agent on loopback answering each path with `status` and `body`; records what it was asked. */
async function agent(answers: Record<string, [number, string]>): Promise<{ url: string; asked: string[]; server: http.Server }> {
  const asked: string[] = [];
  const server = http.createServer((req, res) => {
    asked.push(`${req.url} ${req.headers.authorization}`);
    const [status, body] = answers[req.url ?? ''] ?? [404, 'not found'];
    res.writeHead(status).end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked, server };
}

const usage = (node: string) => JSON.stringify({ node, generatedAt: 1, scrapedAt: 1, stale: false, pods: [], ooms: [] });

describe('collecting the agents’ reports', () => {
  const servers: http.Server[] = [];
  afterEach(() => servers.splice(0).forEach((server) => server.close()));

  it('asks every agent for activity totals as columns with the bearer token, and reports a failing one by URL without losing the others', async () => {
    const columns = {
      node: 'a',
      generatedAt: 1,
      windowMs: 10_000,
      workload: ['shop/web'],
      inFlight: [1],
      meanInFlight: [1],
      requestRate: [2],
      lastRequestAt: [null],
      held: [0],
      stalePods: [0],
    };
    const good = await agent({ [ACTIVITY_COLUMNS_PATH]: [200, JSON.stringify(columns)] });
    // An agent without columns answers the totals as objects.
    const older = await agent({ [ACTIVITY_COLUMNS_PATH]: [200, JSON.stringify({ node: 'b', generatedAt: 1, windowMs: 10_000, workloads: [] })] });
    const refusing = await agent({ [ACTIVITY_COLUMNS_PATH]: [403, 'forbidden'] });
    const unequal = await agent({ [ACTIVITY_COLUMNS_PATH]: [200, JSON.stringify({ ...columns, held: [] })] });
    servers.push(good.server, older.server, refusing.server, unequal.server);
    const collected = await collectActivity(new StaticAgentDirectory([good.url, older.url, refusing.url, unequal.url]), () => Promise.resolve('t0ken'));
    expect(good.asked).to.deep.equal([`${ACTIVITY_COLUMNS_PATH} Bearer t0ken`]);
    expect(collected.reports.map((report) => report.node).sort()).to.deep.equal(['a', 'b']);
    expect(collected.failures.sort((x, y) => x.url.localeCompare(y.url))).to.deep.equal(
      [
        { url: refusing.url, error: `${refusing.url}${ACTIVITY_COLUMNS_PATH} answered 403: forbidden` },
        {
          url: unequal.url,
          error: `${unequal.url}${ACTIVITY_COLUMNS_PATH} answered with a report that cannot be read: held: 0 entries where workload has 1 (one entry per workload)`,
        },
      ].sort((x, y) => x.url.localeCompare(y.url)),
    );
  });

  it('waits for `beforeParse` once every agent has answered, before it parses, and names an agent whose body is not JSON', async () => {
    const good = await agent({ '/usage': [200, usage('a')] });
    const garbled = await agent({ '/usage': [200, '{"node":'] });
    servers.push(good.server, garbled.server);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let waiting = false;
    let settled = false;
    const collecting = collectUsage(
      new StaticAgentDirectory([good.url, garbled.url]),
      () => Promise.resolve('t0ken'),
      () => ((waiting = true), released),
    ).then((collected) => ((settled = true), collected));
    await eventually('the collection waiting with both answers in', () => (waiting ? true : undefined), 5_000);
    expect([...good.asked, ...garbled.asked]).to.deep.equal(['/usage Bearer t0ken', '/usage Bearer t0ken']);
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(settled, 'held by the wait').to.equal(false);
    release();
    const collected = await collecting;
    expect(collected.reports.map((report) => report.node)).to.deep.equal(['a']);
    expect(collected.failures).to.deep.equal([{ url: garbled.url, error: `${garbled.url}/usage answered with a body that is not JSON` }]);
  });
});
