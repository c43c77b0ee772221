// The agent's periodic work (scraping the interceptors, reading the kubelet): a round runs at once,
// then again `intervalMs` after the previous one ended, so a slow round never overlaps the next.

/**
 * A periodic job (the scraper, the usage collector): its owner starts and stops the rounds, each
 * round is the job's `round()`.
 */
export abstract class Rounds {
  private stopRounds: (() => void) | undefined;

  constructor(private readonly intervalMs: number) {}

  protected abstract round(): Promise<unknown>;

  start(): void {
    this.stopRounds = repeatRounds(() => this.round(), this.intervalMs);
  }

  stop(): void {
    this.stopRounds?.();
    this.stopRounds = undefined;
  }
}

/** Starts the rounds; returns the function that stops them. */
function repeatRounds(round: () => Promise<unknown>, intervalMs: number): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const next = () => {
    void round().finally(() => {
      if (!stopped) timer = setTimeout(next, intervalMs);
    });
  };
  timer = setTimeout(next, 0);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
