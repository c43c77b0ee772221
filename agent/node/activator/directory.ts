// What the activator needs to know about the cluster, behind one interface so process-level
// tests can say "workload ns/app is asleep; its backend is 127.0.0.1:PORT once that accepts
// connections" without an API server.

import type { SleepingService } from '../../../src/core/activity/route.ts';
import type { WorkloadKey } from '../../../src/protocol/workload.ts';
import { acceptsConnections } from './backend-probe.ts';

export interface Backend {
  host: string;
  port: number;
}

export interface WorkloadDirectory {
  /** The Services (or static workloads) whose traffic the activator serves. */
  sleeping(): readonly SleepingService[];
  /**
   * Calls back once with a ready backend of the target's workload: at once if one is ready,
   * else as soon as one is. Returns a function that cancels the wait.
   */
  whenReady(target: SleepingService, callback: (backend: Backend) => void): () => void;
  start(): Promise<void>;
  stop(): void;
}

/**
 * `ns/app=127.0.0.1:8080,…`: each workload is asleep behind the activator, and its backend is
 * ready when it accepts a TCP connection (probed every 20 ms while someone waits, like a kubelet
 * TCP readiness probe with a short period).
 */
export class StaticDirectory implements WorkloadDirectory {
  private readonly backends = new Map<WorkloadKey, Backend>();
  private readonly services: SleepingService[];

  constructor(
    backends: ReadonlyMap<WorkloadKey, Backend>,
    private readonly probeIntervalMs = 20,
  ) {
    for (const [workload, backend] of backends) this.backends.set(workload, backend);
    this.services = [...backends.keys()].map((workload) => ({ workload, service: null, clusterIPs: [] }));
  }

  static parse(spec: string): Map<WorkloadKey, Backend> {
    const backends = new Map<WorkloadKey, Backend>();
    for (const entry of spec.split(',').map((e) => e.trim()).filter(Boolean)) {
      const match = /^([^=]+\/[^=]+)=(.+):(\d+)$/.exec(entry);
      if (!match?.[1] || !match[2] || !match[3]) throw new Error(`static backend "${entry}" is not namespace/name=host:port`);
      backends.set(match[1] as WorkloadKey, { host: match[2], port: Number(match[3]) });
    }
    return backends;
  }

  sleeping(): readonly SleepingService[] {
    return this.services;
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
