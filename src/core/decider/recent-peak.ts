// The scale-down delay: a count may only drop once it has been wanted lower for the whole delay,
// i.e. the decision is the highest count wanted during the delay (knative's delay window). Kept as
// a monotonic queue — times ascending, counts strictly descending — so its length is bounded by the
// number of distinct counts, not by the delay divided by the tick, and the peak is its head.

export interface WantedAt {
  at: number;
  replicas: number;
}

export type RecentPeak = readonly WantedAt[];

/** Adds what is wanted at `now` and forgets what is older than `delayMs`; returns a new queue. */
export function recordWanted(queue: RecentPeak, now: number, replicas: number, delayMs: number): RecentPeak {
  // An entry no higher than a newer one can never be the peak again.
  const kept = queue.filter((entry) => entry.at > now - delayMs && entry.replicas > replicas);
  return [...kept, { at: now, replicas }];
}

/** The highest count wanted during the delay; undefined for an empty queue. */
export function peakWanted(queue: RecentPeak): number | undefined {
  return queue[0]?.replicas;
}
