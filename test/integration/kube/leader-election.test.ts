// Leader election against the real API server: one leader at a time, a released lease is taken at
// once, and a leader cut off from the API server stops leading before another takes over.

import { expect } from 'chai';
import { KubeConfig } from '@kubernetes/client-node';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { LeaderElector } from '../../../src/kube/leader-election.ts';
import { eventually, useControlPlane } from '../../fixtures/control-plane.ts';

const timing = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 250 };

/** A TCP relay to the API server that a test can cut, like a network partition. */
async function relayTo(server: string): Promise<{ url: string; cut: () => void; close: () => Promise<void> }> {
  const target = new URL(server);
  const sockets = new Set<Socket>();
  const relay: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const { port } = relay.address() as { port: number };
  const cut = () => {
    relay.close();
    for (const socket of sockets) socket.destroy();
  };
  return { url: `https://127.0.0.1:${port}`, cut, close: () => new Promise((resolve) => (cut(), resolve())) };
}

function kubeConfigVia(base: KubeConfig, server: string): KubeConfig {
  const copy = new KubeConfig();
  copy.loadFromString(base.exportConfig());
  const cluster = copy.getCurrentCluster()!;
  copy.clusters = copy.clusters.map((c) => (c.name === cluster.name ? { ...c, server } : c));
  return copy;
}

describe('leader election on a Lease', function () {
  this.timeout(60_000);
  const controlPlane = useControlPlane({ nodes: 1 });
  const electors: LeaderElector[] = [];
  afterEach(async () => Promise.all(electors.splice(0).map((elector) => elector.stop())));

  const elector = (identity: string, name: string, kubeConfig = controlPlane().kubeConfig) => {
    const e = new LeaderElector(kubeConfig, { namespace: 'default', name, identity, ...timing });
    electors.push(e);
    e.start();
    return e;
  };

  it('elects exactly one leader, and the other takes over at once when it releases', async () => {
    const a = elector('a', 'release');
    await eventually('a leads', () => (a.isLeader() ? true : undefined));
    const b = elector('b', 'release');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect([a.isLeader(), b.isLeader()]).to.deep.equal([true, false]);
    const released = Date.now();
    await a.stop();
    await eventually('b leads', () => (b.isLeader() ? true : undefined));
    expect(Date.now() - released).to.be.below(timing.leaseDurationMs);
    expect(a.isLeader()).to.equal(false);
  });

  it('a leader cut off from the API server stops leading before another replica starts', async () => {
    const relay = await relayTo(controlPlane().server);
    try {
      const a = elector('a', 'partition', kubeConfigVia(controlPlane().kubeConfig, relay.url));
      await eventually('a leads', () => (a.isLeader() ? true : undefined));
      const b = elector('b', 'partition');
      relay.cut();
      const cutAt = Date.now();
      let aStoppedAt = 0;
      let overlap = false;
      await eventually(
        'b leads',
        () => {
          if (!a.isLeader() && !aStoppedAt) aStoppedAt = Date.now();
          if (a.isLeader() && b.isLeader()) overlap = true;
          return b.isLeader() ? true : undefined;
        },
        10_000,
      );
      expect(overlap, 'two leaders at once').to.equal(false);
      expect(aStoppedAt - cutAt).to.be.at.most(timing.renewDeadlineMs + 100);
    } finally {
      await relay.close();
    }
  });
});
