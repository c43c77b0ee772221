// Leader election on a coordination.k8s.io Lease. One replica of the controller writes; the others
// wait. A leader that cannot renew within renewDeadline stops leading at once, before its lease
// can expire for the others, so two replicas never write at the same time.

import { CoordinationV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { nextLeaseAction, observe, type LeaseRecord, type Observation } from '../core/leader-election.ts';
import { isConflict, isNotFound } from './errors.ts';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
  log?: (message: string) => void;
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private observed: Observation | undefined;
  private resourceVersion: string | undefined;
  private lastRenewedAt = 0;
  private leading = false;
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    kubeConfig: KubeConfig,
    private readonly options: LeaderElectionOptions,
  ) {
    this.api = kubeConfig.makeApiClient(CoordinationV1Api);
    this.leaseDurationMs = options.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
  }

  /** True only while this replica holds a lease it renewed within the renew deadline. */
  isLeader(now = Date.now()): boolean {
    return this.leading && now - this.lastRenewedAt < this.renewDeadlineMs;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.cycle();
  }

  /** Stops trying; a leader releases the lease so that another replica takes over at once. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.setLeading(false);
    if (!this.observed || !this.resourceVersion) return;
    try {
      await this.write({ ...this.observed.record, holder: '' }, this.resourceVersion);
    } catch (error) {
      this.options.log?.(`could not release lease ${this.options.namespace}/${this.options.name}: ${String(error)}`);
    }
  }

  private async cycle(): Promise<void> {
    try {
      await this.tryAcquireOrRenew(Date.now());
    } catch (error) {
      this.options.log?.(`lease ${this.options.namespace}/${this.options.name}: ${error instanceof Error ? error.message : String(error)}`);
    }
    // Checked after every attempt, failed or not: a leader that has not renewed in time steps down.
    if (this.leading && !this.isLeader()) this.setLeading(false);
    if (this.running) this.timer = setTimeout(() => void this.cycle(), this.retryPeriodMs);
  }

  private async tryAcquireOrRenew(now: number): Promise<void> {
    const { namespace, name, identity } = this.options;
    let current: V1Lease | undefined;
    try {
      current = await this.api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    if (current) {
      this.observed = observe(this.observed, fromLease(current), now);
      this.resourceVersion = current.metadata?.resourceVersion;
    } else {
      this.observed = undefined;
    }
    const action = nextLeaseAction(this.observed, identity, now, this.leaseDurationMs);
    if (action.kind === 'wait') {
      if (this.leading) this.setLeading(false);
      return;
    }
    try {
      const written = action.kind === 'create' ? await this.create(action.record) : await this.write(action.record, this.resourceVersion);
      this.resourceVersion = written.metadata?.resourceVersion;
      this.observed = { record: action.record, observedAt: now };
      this.lastRenewedAt = now;
      if (!this.leading) this.setLeading(true);
    } catch (error) {
      // Someone else wrote first: not ours this round. The next read tells who leads.
      if (!isConflict(error)) throw error;
    }
  }

  private setLeading(leading: boolean) {
    this.leading = leading;
    this.options.log?.(`${this.options.identity} ${leading ? 'is now the leader' : 'stopped leading'}`);
    (leading ? this.options.onStartedLeading : this.options.onStoppedLeading)?.();
  }

  private create(record: LeaseRecord): Promise<V1Lease> {
    // Without times: client-node writes Dates with milliseconds, which the API server's MicroTime
    // refuses. The first renewal, a patch, sets them.
    const { namespace, name } = this.options;
    return this.api.createNamespacedLease({
      namespace,
      body: {
        metadata: { name, namespace },
        spec: { holderIdentity: record.holder, leaseDurationSeconds: Math.ceil(record.leaseDurationMs / 1000), leaseTransitions: record.transitions },
      },
    });
  }

  /** A merge patch guarded by resourceVersion: a lease changed since it was read yields 409. */
  private write(record: LeaseRecord, resourceVersion: string | undefined): Promise<V1Lease> {
    const { namespace, name } = this.options;
    return this.api.patchNamespacedLease(
      {
        name,
        namespace,
        body: {
          metadata: { resourceVersion },
          spec: {
            holderIdentity: record.holder,
            leaseDurationSeconds: Math.ceil(record.leaseDurationMs / 1000),
            acquireTime: microTime(record.acquiredAt),
            renewTime: microTime(record.renewedAt),
            leaseTransitions: record.transitions,
          },
        },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }
}

/** RFC 3339 with microseconds, the only form the API server accepts for a MicroTime. */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

function fromLease(lease: V1Lease): LeaseRecord {
  const spec = lease.spec ?? {};
  return {
    holder: spec.holderIdentity ?? '',
    leaseDurationMs: (spec.leaseDurationSeconds ?? 15) * 1000,
    acquiredAt: spec.acquireTime ? new Date(spec.acquireTime).getTime() : 0,
    renewedAt: spec.renewTime ? new Date(spec.renewTime).getTime() : 0,
    transitions: spec.leaseTransitions ?? 0,
  };
}
