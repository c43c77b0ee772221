import { expect } from 'chai';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { collectActivity, collectUsage, StaticAgentDirectory } from '../../../src/controller/agents.ts';
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

  it('asks every agent for activity totals with the bearer token, and reports a failing one by URL without losing the others', async () => {
    const good = await agent({ '/activity?pods=false': [200, JSON.stringify({ node: 'a', generatedAt: 1, windowMs: 10_000, workloads: [] })] });
    const refusing = await agent({ '/activity?pods=false': [403, 'forbidden'] });
    servers.push(good.server, refusing.server);
    const collected = await collectActivity(new StaticAgentDirectory([good.url, refusing.url]), () => Promise.resolve('t0ken'));
    expect(good.asked).to.deep.equal(['/activity?pods=false Bearer t0ken']);
    expect(collected.reports.map((report) => report.node)).to.deep.equal(['a']);
    expect(collected.failures).to.deep.equal([{ url: refusing.url, error: `${refusing.url}/activity?pods=false answered 403: forbidden` }]);
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
