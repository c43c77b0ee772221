// A program's Prometheus metrics, on a Registry of their own so that tests (and several programs in
// one process) never collide in prom-client's global registry. A program's metrics class extends
// ProgramMetrics and declares each metric with counter(), gauge() or histogram(): on its registry.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export abstract class ProgramMetrics {
  readonly registry = new Registry();

  protected counter<L extends string = string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  protected gauge<L extends string = string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  protected histogram<L extends string = string>(name: string, help: string, buckets: number[], labelNames: readonly L[] = []): Histogram<L> {
    return new Histogram({ name, help, buckets, labelNames, registers: [this.registry] });
  }
}
