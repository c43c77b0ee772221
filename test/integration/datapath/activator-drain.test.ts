// SIGTERM loses nothing: the agent as a process (static backends, no cluster), holding requests
// for a sleeping workload when it is told to stop. It stops accepting connections at once; each
// held request gets exactly one answer: forwarded when the backend becomes ready within the drain
// (EBB_ACTIVATOR_DRAIN_MS), else 503 with Retry-After when the drain ends; then the agent exits.

import { expect } from 'chai';
import { once } from 'node:events';
import type { ActivityReport } from '../../../src/protocol/activity.ts';
import { eventually } from '../../fixtures/control-plane.ts';
import { CONTROLLER_TOKEN, freePort, request, startAgent, startApp, type AgentReady, type Reply, type Started } from '../../fixtures/processes.ts';
import { useServers } from '../../fixtures/suite.ts';

const HELD = 12;

async function heldFor(agent: Started<AgentReady>, workload: string): Promise<number> {
  const reply = await request(agent.ready.activity, '/activity', { Authorization: `Bearer ${CONTROLLER_TOKEN}` });
  return (JSON.parse(reply.body) as ActivityReport).workloads.find((w) => w.workload === workload)?.held ?? 0;
}

/** Sends HELD requests to the activator and resolves once the agent holds all of them. */
async function holdRequests(agent: Started<AgentReady>): Promise<Promise<Reply | string>[]> {
  const replies = [...Array(HELD).keys()].map((i) =>
    request(agent.ready.activator, `/r/${i}`, { 'X-Request-Id': String(i) }).catch((error: NodeJS.ErrnoException) => `failed: ${error.code ?? error.message}`),
  );
  await eventually(`${HELD} requests held`, async () => ((await heldFor(agent, 'shop/sleepy')) === HELD ? true : undefined), 10_000);
  return replies;
}

/** SIGTERM, and once the agent says it drains, whether a new connection is still accepted. */
async function terminate(agent: Started<AgentReady>): Promise<{ exited: Promise<unknown[]>; newConnection: string }> {
  const exited = once(agent.child, 'exit');
  agent.child.kill('SIGTERM');
  await eventually('the agent draining', () => (agent.output.some((line) => line.includes('"msg":"draining"')) ? true : undefined), 10_000);
  const newConnection = await request(agent.ready.activator, '/late').then(
    (r) => `answered ${r.status}`,
    (error: NodeJS.ErrnoException) => error.code ?? error.message,
  );
  return { exited, newConnection };
}

describe('agent SIGTERM with held requests (real process)', function () {
  this.timeout(60_000);
  const servers = useServers('each');

  it('forwards every held request whose backend becomes ready during the drain, each exactly once, then exits', async () => {
    const appPort = await freePort();
    const agent = await startAgent({ EBB_STATIC_BACKENDS: `shop/sleepy=127.0.0.1:${appPort}`, EBB_ACTIVATOR_DRAIN_MS: '30000' });
    const replies = await holdRequests(agent);

    const { exited, newConnection } = await terminate(agent);
    expect(newConnection, 'a new connection after SIGTERM').to.equal('ECONNREFUSED');
    expect(await heldFor(agent, 'shop/sleepy'), 'still held, none dropped').to.equal(HELD);

    const seen: string[] = [];
    servers.push(await startApp(appPort, 5, (req) => seen.push(String(req.headers['x-request-id']))));
    const answers = (await Promise.all(replies)) as Reply[];
    expect(answers.map((a) => `${a.status} ${a.body}`)).to.deep.equal(answers.map((_, i) => `200 ok ${i}`));
    expect(answers.map((a) => a.headers.connection)).to.deep.equal(Array(HELD).fill('close'));
    expect([...seen].sort()).to.deep.equal([...Array(HELD).keys()].map(String).sort());
    expect(await exited).to.deep.equal([0, null]);
    expect(agent.output.some((line) => line.includes('"msg":"agent stopped"'))).to.equal(true);
  });

  it('answers every held request 503 with Retry-After when the drain ends with no backend, then exits', async () => {
    const downPort = await freePort();
    const agent = await startAgent({ EBB_STATIC_BACKENDS: `shop/sleepy=127.0.0.1:${downPort}`, EBB_ACTIVATOR_DRAIN_MS: '500' });
    const replies = await holdRequests(agent);

    const { exited, newConnection } = await terminate(agent);
    expect(newConnection).to.equal('ECONNREFUSED');
    const answers = (await Promise.all(replies)) as Reply[];
    expect(answers.map((a) => `${a.status} retry-after=${a.headers['retry-after']}`)).to.deep.equal(Array(HELD).fill('503 retry-after=1'));
    for (const answer of answers) expect(answer.body).to.match(/activator: the agent is shutting down and shop\/sleepy was not ready in time/);
    expect(await exited).to.deep.equal([0, null]);
  });
});
