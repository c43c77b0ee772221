// What the activator needs to know about the cluster, behind one interface so process-level
// tests can say "workload ns/app is asleep behind activator port P; its backend is
// 127.0.0.1:PORT once that accepts connections" without an API server.

import type { ActivatorRoute, SleepingService } from '../../../src/core/activity/route.ts';
import { parseWorkloadKey, type WorkloadKey } from '../../../src/protocol/workload.ts';
import { acceptsConnections } from './backend-probe.ts';

export interface Backend {
  host: string;
  port: number;
}

/** Where a sleeping Service port's held requests may go. */
export interface BackendSource {
  /**
   * Calls back once with a ready backend for the target: at once if one is ready, else as soon as
   * one is. Returns a function that cancels the wait.
   */
  whenReady(target: SleepingService, callback: (backend: Backend) => void): () => void;
}

export interface WorkloadDirectory extends BackendSource {
  /** The ports the activator listens on, each with the Service port whose traffic arrives there. */
  routes(): readonly ActivatorRoute[];
  /** `listener` is called after routes() changed. */
  onRoutesChanged(listener: () => void): void;
  start(): Promise<void>;
  stop(): void;
}

export interface StaticWorkload {
  workload: WorkloadKey;
  backend: Backend;
  /** 0: any free port (the agent's "listening" log line says which). */
  activatorPort: number;
}

/**
 * `ns/app=127.0.0.1:8080@18100,…`: each workload is asleep behind its own activator port (after
 * `@`; none: any free port), and its backend is ready when it accepts a TCP connection (probed
 * every 20 ms while someone waits, like a kubelet TCP readiness probe with a short period).
 */
export class StaticDirectory implements WorkloadDirectory {
  private readonly backends = new Map<WorkloadKey, Backend>();
  private readonly staticRoutes: ActivatorRoute[];

  constructor(
    workloads: readonly StaticWorkload[],
    private readonly probeIntervalMs = 20,
  ) {
    for (const { workload, backend } of workloads) this.backends.set(workload, backend);
    this.staticRoutes = workloads.map(({ workload, activatorPort }) => ({ port: activatorPort, target: { workload, service: null, portName: '' } }));
  }

  static parse(spec: string): StaticWorkload[] {
    const workloads: StaticWorkload[] = [];
    for (const entry of spec
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean)) {
      const match = /^([^=]+)=(.+):(\d+)(?:@(\d+))?$/.exec(entry);
      const workload = parseWorkloadKey(match?.[1] ?? '');
      const activatorPort = Number(match?.[4] ?? 0);
      if (!match?.[2] || !match[3] || !workload || activatorPort > 65_535)
        throw new Error(`static backend "${entry}" is not namespace/name=host:port[@activatorPort]`);
      const clash = workloads.find((w) => w.workload === workload || (activatorPort !== 0 && w.activatorPort === activatorPort));
      if (clash) throw new Error(`static backend "${entry}" repeats the workload or the activator port of ${clash.workload}`);
      workloads.push({ workload, backend: { host: match[2], port: Number(match[3]) }, activatorPort });
    }
    return workloads;
  }

  routes(): readonly ActivatorRoute[] {
    return this.staticRoutes;
  }

  onRoutesChanged(): void {
    // Static routes never change.
  }

  whenReady(target: SleepingService, callback: (backend: Backend) => void): () => void {
    const backend = this.backends.get(target.workload);
    if (!backend) return () => undefined;
    let cancelled = false;
    let timer: NodeJS.Timeout | undefined;
    const probe = async () => {
      const ready = await acceptsConnections(backend);
      if (cancelled) return;
      if (ready) callback(backend);
      else timer = setTimeout(() => void probe(), this.probeIntervalMs);
    };
    void probe();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  stop(): void {}
}
