// The activator's bookkeeping for held requests: which may be held (caps on count and bytes, per
// workload and per agent), in which order they are released, and when each one's deadline has
// passed. Requests wait in queues, one per Service port they arrived for (a workload's Services,
// and a Service's ports, become ready at different backends), and are capped per workload.
// Pure: the caller owns the sockets and passes time in (milliseconds); the ledger only answers
// with ids.

import type { WorkloadKey } from '../../protocol/workload.ts';

export interface HoldLimits {
  maxRequestsPerWorkload: number;
  maxBytesPerWorkload: number;
  maxRequests: number;
  maxBytes: number;
  deadlineMs: number;
}

export const DEFAULT_HOLD_LIMITS: HoldLimits = {
  maxRequestsPerWorkload: 1_000,
  maxBytesPerWorkload: 16 * 1024 * 1024,
  maxRequests: 5_000,
  maxBytes: 64 * 1024 * 1024,
  deadlineMs: 60_000,
};

export type Admission = { admitted: true; id: number; deadline: number } | { admitted: false; reason: string };

interface HeldEntry {
  id: number;
  workload: WorkloadKey;
  queue: string;
  bytes: number;
  deadline: number;
}

interface WorkloadTally {
  /** Held ids in arrival order (a Map keeps insertion order). */
  entries: Map<number, HeldEntry>;
  bytes: number;
}

type Queue = Map<number, HeldEntry>;

export class HoldLedger {
  private nextId = 1;
  /** Every held entry in arrival order, which is also deadline order (the deadline is fixed). */
  private readonly all = new Map<number, HeldEntry>();
  private readonly byWorkload = new Map<WorkloadKey, WorkloadTally>();
  private readonly queues = new Map<string, Queue>();
  private totalBytes = 0;

  constructor(private readonly limits: HoldLimits = DEFAULT_HOLD_LIMITS) {}

  /**
   * Admits a new request of `bytes` (its head, so far) into `queue` (the workload's own unless
   * given), or says which cap it would break.
   */
  admit(workload: WorkloadKey, bytes: number, nowMs: number, queue: string = workload): Admission {
    const tally = this.byWorkload.get(workload);
    const overCap = this.capBroken(tally?.entries.size ?? 0, 1, tally?.bytes ?? 0, bytes);
    if (overCap) return { admitted: false, reason: overCap };
    const entry: HeldEntry = { id: this.nextId++, workload, queue, bytes, deadline: nowMs + this.limits.deadlineMs };
    const workloadTally = tally ?? { entries: new Map(), bytes: 0 };
    this.byWorkload.set(workload, workloadTally);
    workloadTally.entries.set(entry.id, entry);
    workloadTally.bytes += bytes;
    const queued: Queue = this.queues.get(queue) ?? new Map<number, HeldEntry>();
    this.queues.set(queue, queued);
    queued.set(entry.id, entry);
    this.all.set(entry.id, entry);
    this.totalBytes += bytes;
    return { admitted: true, id: entry.id, deadline: entry.deadline };
  }

  /** Adds body bytes to a held request; returns the broken cap, or undefined if still within. */
  grow(id: number, bytes: number): string | undefined {
    const entry = this.all.get(id);
    if (!entry) return undefined;
    const tally = this.byWorkload.get(entry.workload);
    const overCap = this.capBroken(tally?.entries.size ?? 0, 0, tally?.bytes ?? 0, bytes);
    if (overCap) return overCap;
    entry.bytes += bytes;
    if (tally) tally.bytes += bytes;
    this.totalBytes += bytes;
    return undefined;
  }

  /** Forgets a request (answered, expired, client gone). Unknown ids are ignored. */
  remove(id: number): void {
    const entry = this.all.get(id);
    if (!entry) return;
    this.all.delete(id);
    this.totalBytes -= entry.bytes;
    const queue = this.queues.get(entry.queue);
    queue?.delete(id);
    if (queue?.size === 0) this.queues.delete(entry.queue);
    const tally = this.byWorkload.get(entry.workload);
    if (!tally) return;
    tally.entries.delete(id);
    tally.bytes -= entry.bytes;
    if (tally.entries.size === 0) this.byWorkload.delete(entry.workload);
  }

  /** Removes and returns the queue's held ids in arrival order: they are to be forwarded. */
  release(queue: string): number[] {
    const ids = [...(this.queues.get(queue)?.keys() ?? [])];
    for (const id of ids) this.remove(id);
    return ids;
  }

  /** Removes and returns the ids whose deadline is at or before now. */
  expire(nowMs: number): number[] {
    const expired: number[] = [];
    for (const entry of this.all.values()) {
      if (entry.deadline > nowMs) break;
      expired.push(entry.id);
    }
    for (const id of expired) this.remove(id);
    return expired;
  }

  /** The earliest deadline still pending, to arm a single timer. */
  nextDeadline(): number | undefined {
    return this.all.values().next().value?.deadline;
  }

  /** Requests held in the queue. */
  queued(queue: string): number {
    return this.queues.get(queue)?.size ?? 0;
  }

  held(workload?: WorkloadKey): number {
    return workload === undefined ? this.all.size : (this.byWorkload.get(workload)?.entries.size ?? 0);
  }

  heldBytes(workload?: WorkloadKey): number {
    return workload === undefined ? this.totalBytes : (this.byWorkload.get(workload)?.bytes ?? 0);
  }

  workloads(): WorkloadKey[] {
    return [...this.byWorkload.keys()];
  }

  private capBroken(workloadCount: number, addCount: number, workloadBytes: number, addBytes: number): string | undefined {
    const l = this.limits;
    if (workloadCount + addCount > l.maxRequestsPerWorkload) return `the workload already has ${workloadCount} held requests (cap ${l.maxRequestsPerWorkload})`;
    if (this.all.size + addCount > l.maxRequests) return `this agent already holds ${this.all.size} requests (cap ${l.maxRequests})`;
    if (workloadBytes + addBytes > l.maxBytesPerWorkload) return `held bytes for the workload would exceed ${l.maxBytesPerWorkload}`;
    if (this.totalBytes + addBytes > l.maxBytes) return `held bytes on this agent would exceed ${l.maxBytes}`;
    return undefined;
  }
}
