// Who leads, decided from a Lease as last read, without I/O. Like client-go, expiry is judged by
// the local clock from when this replica last saw the record change, not by the holder's renewTime,
// so clocks that disagree between machines cannot make two leaders.

export interface LeaseRecord {
  holder: string;
  leaseDurationMs: number;
  acquiredAt: number;
  renewedAt: number;
  transitions: number;
}

export interface Observation {
  record: LeaseRecord;
  /** Local time at which this replica first saw this exact record (holder and renewedAt). */
  observedAt: number;
}

export type LeaseAction = { kind: 'create' | 'take' | 'renew'; record: LeaseRecord } | { kind: 'wait'; holder: string; expiresAt: number };

export function nextLeaseAction(observed: Observation | undefined, identity: string, now: number, leaseDurationMs: number): LeaseAction {
  if (!observed) {
    return { kind: 'create', record: { holder: identity, leaseDurationMs, acquiredAt: now, renewedAt: now, transitions: 0 } };
  }
  const { record } = observed;
  if (record.holder === identity) return { kind: 'renew', record: { ...record, leaseDurationMs, renewedAt: now } };
  const expiresAt = observed.observedAt + record.leaseDurationMs;
  // An empty holder is a lease released on purpose: take it at once.
  if (record.holder !== '' && now < expiresAt) return { kind: 'wait', holder: record.holder, expiresAt };
  return {
    kind: 'take',
    record: { holder: identity, leaseDurationMs, acquiredAt: now, renewedAt: now, transitions: record.transitions + 1 },
  };
}

/** The observation to keep after reading `record` at `now`: unchanged records keep their first sighting. */
export function observe(previous: Observation | undefined, record: LeaseRecord, now: number): Observation {
  const unchanged = previous && previous.record.holder === record.holder && previous.record.renewedAt === record.renewedAt;
  return unchanged ? { record, observedAt: previous.observedAt } : { record, observedAt: now };
}
