// Leader election against the real API server: one leader at a time, a released lease is taken at
// once, and a leader cut off from the API server stops leading before another takes over.

import { expect } from 'chai';
import { KubeConfig } from '@kubernetes/client-node';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { LeaderElector, type LeaderElectionOptions } from '../../../src/kube/leader-election.ts';
import { eventually, useControlPlane } from '../../fixtures/control-plane.ts';

const timing = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 250 };
/** A lease that cannot expire within a test (timeout 60 s): only a release hands it over. */
const longLease = { leaseDurationMs: 120_000, renewDeadlineMs: 60_000, retryPeriodMs: 250 };

/** The kubeconfig with a count of the API requests made through it, by method. */
function countingKubeConfig(base: KubeConfig): { kubeConfig: KubeConfig; requests: Map<string, number> } {
  const requests = new Map<string, number>();
  class Counting extends KubeConfig {
    override async applySecurityAuthentication(context: Parameters<KubeConfig['applySecurityAuthentication']>[0]): Promise<void> {
      requests.set(context.getHttpMethod(), (requests.get(context.getHttpMethod()) ?? 0) + 1);
      await super.applySecurityAuthentication(context);
    }
  }
  const kubeConfig = new Counting();
  kubeConfig.loadFromString(base.exportConfig());
  return { kubeConfig, requests };
}

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

  const elector = (identity: string, name: string, kubeConfig = controlPlane().kubeConfig, options: Partial<LeaderElectionOptions> = timing) => {
    const e = new LeaderElector(kubeConfig, { namespace: 'default', name, identity, ...timing, ...options });
    electors.push(e);
    e.start();
    return e;
  };

  it('elects exactly one leader, and the other takes over at once when it releases', async () => {
    // The lease outlasts the test: b can only lead through a's release, never through expiry.
    const a = elector('a', 'release', controlPlane().kubeConfig, longLease);
    await eventually('a leads', () => (a.isLeader() ? true : undefined));
    const { kubeConfig, requests } = countingKubeConfig(controlPlane().kubeConfig);
    const b = elector('b', 'release', kubeConfig, longLease);
    // b reads the Lease at the start of every attempt, one attempt after the other: its third
    // read means two whole attempts (read, decide, write if it would take) are behind it.
    await eventually('b has made two attempts', () => ((requests.get('GET') ?? 0) >= 3 ? true : undefined));
    expect([a.isLeader(), b.isLeader()]).to.deep.equal([true, false]);
    const released = Date.now();
    await a.stop();
    await eventually('b leads', () => (b.isLeader() ? true : undefined), 20_000);
    expect(Date.now() - released).to.be.below(longLease.leaseDurationMs);
    expect(a.isLeader()).to.equal(false);
  });

  it('a leader cut off from the API server stops leading before another replica starts', async () => {
    const relay = await relayTo(controlPlane().server);
    try {
      const a = elector('a', 'partition', kubeConfigVia(controlPlane().kubeConfig, relay.url));
      await eventually('a leads', () => (a.isLeader() ? true : undefined));
      // Checked at the instant b becomes leader, not by sampling: a must not lead then.
      let aLeadingWhenBStarted: boolean | undefined;
      const b = elector('b', 'partition', controlPlane().kubeConfig, { onStartedLeading: () => (aLeadingWhenBStarted ??= a.isLeader()) });
      relay.cut();
      // From the cut on, a cannot renew: asked at once, while it still leads, a must already say
      // it will not lead at the renew deadline after the cut (isLeader takes the time, and it is
      // what gates a's writes). Asked at once, so neither a slow machine nor a poll's timing
      // decides it.
      const cutAt = Date.now();
      const aLeadingAtDeadline = a.isLeader(cutAt + timing.renewDeadlineMs);
      await eventually('b leads', () => (b.isLeader() ? true : undefined), 20_000);
      expect(aLeadingAtDeadline, 'a leading at the renew deadline after the cut').to.equal(false);
      expect(aLeadingWhenBStarted, 'a still leading when b started').to.equal(false);
      expect(a.isLeader(), 'two leaders at once').to.equal(false);
    } finally {
      await relay.close();
    }
  });
});
