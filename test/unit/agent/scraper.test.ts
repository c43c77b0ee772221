// The scraper against a real stats endpoint on loopback, with its clock driven by the test: the
// window, the staleness and the timestamps follow the clock the test holds, not the machine's.

import { expect } from 'chai';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../../agent/node/clock.ts';
import { StaticDiscovery } from '../../../agent/node/discovery.ts';
import { Scraper } from '../../../agent/node/scraper.ts';
import type { InterceptorStats } from '../../../src/protocol/stats.ts';

class SteppedClock implements Clock {
  monotonic = 1_000;
  epoch = Date.UTC(2026, 0, 1);
  monotonicMs(): number {
    return this.monotonic;
  }
  epochMs(): number {
    return this.epoch;
  }
  advance(ms: number): void {
    this.monotonic += ms;
    this.epoch += ms;
  }
}

describe('scraper', () => {
  let server: http.Server;
  /** What the stats endpoint answers next; undefined answers 500. */
  let stats: InterceptorStats | undefined;
  let address: string;

  beforeEach(async () => {
    stats = undefined;
    server = http.createServer((_req, res) => {
      if (!stats) return res.writeHead(500).end();
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(stats));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** A scraper on the driven clock with a 10 s window, counting its failed scrapes. */
  const scraperOn = (discovery: StaticDiscovery, clock: Clock) => {
    const failures = { count: 0 };
    const scraper = new Scraper(discovery, { intervalMs: 1_000, timeoutMs: 5_000, windowMs: 10_000, clock, onScrapeFailure: () => (failures.count += 1) });
    return { scraper, failures };
  };

  const sample = (uptimeMs: number, requests: number, inFlightMsTotal: number, inFlight: number): InterceptorStats => ({
    workload: 'shop/web',
    startedAt: 1,
    inFlight,
    requests,
    inFlightMsTotal,
    lastRequestAt: 5,
    sampledAt: 0,
    uptimeMs,
    appReady: true,
    draining: false,
  });

  it('computes rate and mean concurrency over its window from the driven clock', async () => {
    const clock = new SteppedClock();
    const { scraper, failures } = scraperOn(new StaticDiscovery([address]), clock);
    stats = sample(0, 0, 0, 0);
    await scraper.scrapeAll();
    clock.advance(10_000);
    stats = sample(10_000, 50, 30_000, 4);
    await scraper.scrapeAll();

    const report = scraper.report('node-a', new Map());
    expect(report.generatedAt).to.equal(clock.epoch);
    const [web] = report.workloads;
    expect(web?.requestRate).to.equal(5);
    expect(web?.meanInFlight).to.equal(3);
    expect(web?.inFlight).to.equal(4);
    expect(web?.pods[0]?.scrapedAt).to.equal(clock.epoch);
    expect(failures.count).to.equal(0);
  });

  it('keeps a pod whose scrape fails with its last figures, marked stale, never zero', async () => {
    const clock = new SteppedClock();
    const { scraper, failures } = scraperOn(new StaticDiscovery([address]), clock);
    stats = sample(0, 0, 0, 0);
    await scraper.scrapeAll();
    clock.advance(5_000);
    stats = sample(5_000, 10, 10_000, 2);
    await scraper.scrapeAll();
    const scrapedAt = clock.epoch;

    clock.advance(5_000);
    stats = undefined;
    await scraper.scrapeAll();
    const [web] = scraper.report('node-a', new Map()).workloads;
    expect(failures.count).to.equal(1);
    expect(web?.stalePods).to.equal(1);
    expect(web?.inFlight).to.equal(2);
    expect(web?.meanInFlight).to.equal(2);
    expect(web?.pods[0]).to.include({ stale: true, scrapedAt });
  });

  it('forgets a pod that left the node', async () => {
    const clock = new SteppedClock();
    const discovery = new StaticDiscovery([address]);
    const { scraper } = scraperOn(discovery, clock);
    stats = sample(0, 0, 0, 1);
    await scraper.scrapeAll();
    expect(scraper.report('node-a', new Map()).workloads).to.have.length(1);
    const { scraper: empty } = scraperOn(new StaticDiscovery([]), clock);
    await empty.scrapeAll();
    expect(empty.report('node-a', new Map()).workloads).to.have.length(0);
  });
});
