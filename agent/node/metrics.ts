// The agent's Prometheus metrics, served on GET /metrics of its activity port (unauthenticated,
// like every /metrics: counts and workload names, no request contents). Its own registry, so
// nothing else in the process (client-node, defaults) leaks into it.

import { Counter, Gauge, Registry } from 'prom-client';
import type { WorkloadKey } from '../../src/protocol/workload.ts';

/** accepted: the controller asked for a replica; declined: it answered but would not; failed: no answer. */
export type WakeOutcome = 'accepted' | 'declined' | 'failed';

export interface AgentState {
  heldByWorkload(): ReadonlyMap<WorkloadKey, number>;
  /** Interceptors the agent scrapes. */
  targets(): number;
  /** Services whose traffic this agent's activator serves. */
  sleepingServices(): number;
}

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly scrapeFailures: Counter;
  private readonly wakeRequests: Counter<'outcome'>;
  private readonly kubeletScrapeFailures: Counter;

  constructor(state: AgentState) {
    new Gauge({
      name: 'ebb_agent_held_requests',
      help: 'Requests the activator holds, by workload.',
      labelNames: ['workload'],
      registers: [this.registry],
      collect() {
        // Reset first: a workload with nothing held any more drops out instead of staying at its last value.
        this.reset();
        for (const [workload, held] of state.heldByWorkload()) this.set({ workload }, held);
      },
    });
    // Gauges read from the agent's state when Prometheus scrapes.
    const stateGauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read());
        },
      });
    stateGauge('ebb_agent_scrape_targets', 'Interceptors on this node the agent scrapes.', () => state.targets());
    stateGauge('ebb_agent_sleeping_services', 'Services at zero whose traffic this agent’s activator serves.', () => state.sleepingServices());
    this.scrapeFailures = new Counter({
      name: 'ebb_agent_scrape_failures_total',
      help: 'Scrapes of an interceptor that failed (its figures are then stale).',
      registers: [this.registry],
    });
    this.wakeRequests = new Counter({
      name: 'ebb_agent_wake_requests_total',
      help: 'Wake requests sent to the controller, by outcome.',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    for (const outcome of ['accepted', 'declined', 'failed'] as const) this.wakeRequests.inc({ outcome }, 0);
    this.kubeletScrapeFailures = new Counter({
      name: 'ebb_agent_kubelet_scrape_failures_total',
      help: 'Reads of the node kubelet’s resource metrics that failed (GET /usage is then stale).',
      registers: [this.registry],
    });
  }

  readonly scrapeFailed = (): void => this.scrapeFailures.inc();

  readonly wakeRequested = (outcome: WakeOutcome): void => this.wakeRequests.inc({ outcome });

  readonly kubeletScrapeFailed = (): void => this.kubeletScrapeFailures.inc();
}
