// The agent's periodic work (scraping the interceptors, reading the kubelet): a round runs at once,
// then again `intervalMs` after the previous one ended, so a slow round never overlaps the next.

/** Starts the rounds; returns the function that stops them. */
export function repeatRounds(round: () => Promise<unknown>, intervalMs: number): () => void {
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
