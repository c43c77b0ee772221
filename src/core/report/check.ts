// `kubectl ebb check`: the judgments behind its lines, each ✔ or ✘ with the fix. The CLI reads
// the cluster and hands the facts in (with `now`); what can be judged without I/O is judged here.

export interface CheckLine {
  ok: boolean;
  /** What holds (✔) or does not (✘), e.g. `controller leader: ebb-controller-0`. */
  title: string;
  /** What to do about a ✘. */
  fix?: string;
}

export const pass = (title: string): CheckLine => ({ ok: true, title });
export const failure = (title: string, fix: string): CheckLine => ({ ok: false, title, fix });

/** 1 when any line failed, as `linkerd check` does. */
export const exitCodeOf = (lines: readonly CheckLine[]): number => (lines.every((line) => line.ok) ? 0 : 1);

export interface LeaseFacts {
  holder?: string;
  /** Epoch ms of the last renewal. */
  renewedAt?: number;
  durationMs?: number;
}

/**
 * A leader renews its Lease every few seconds; one not renewed within its duration has no leader
 * (every replica would take it then). Judged by this machine's clock, so a skew of the clocks
 * shortens or stretches the margin, never turns a held lease into a free one by more than the skew.
 */
export function leaderLine(lease: LeaseFacts | undefined, where: string, now: number): CheckLine {
  const fix = `start the controller (kubectl -n ${where.split('/')[0]} get deploy ebb-controller; its logs say why it does not lead)`;
  if (!lease) return failure(`controller leader: no Lease ${where}`, fix);
  if (!lease.holder) return failure(`controller leader: Lease ${where} has no holder`, fix);
  const expiresAt = (lease.renewedAt ?? 0) + (lease.durationMs ?? 0);
  if (expiresAt < now) {
    const ago = Math.round((now - (lease.renewedAt ?? 0)) / 1000);
    return failure(`controller leader: ${lease.holder} last renewed Lease ${where} ${ago}s ago, past its ${Math.round((lease.durationMs ?? 0) / 1000)}s`, fix);
  }
  return pass(`controller leader: ${lease.holder} (Lease ${where})`);
}

export interface AgentPodFacts {
  name: string;
  node?: string;
  ready: boolean;
}

export function agentsLine(nodes: readonly string[], agents: readonly AgentPodFacts[], daemonSet: string): CheckLine {
  if (agents.length === 0)
    return failure(`an agent Ready on every node: no pod of DaemonSet ${daemonSet} at all`, 'apply the manifests: kubectl apply -k manifests');
  const readyOn = new Set(agents.filter((agent) => agent.ready && agent.node).map((agent) => agent.node));
  const missing = nodes.filter((node) => !readyOn.has(node));
  if (missing.length === 0) return pass(`an agent Ready on every node (${nodes.length})`);
  const listed = missing.length > 5 ? `${missing.slice(0, 5).join(', ')} and ${missing.length - 5} more` : missing.join(', ');
  return failure(
    `an agent Ready on every node: none on ${listed} (${readyOn.size} of ${nodes.length} nodes have one)`,
    `see kubectl -n ${daemonSet.split('/')[0]} describe daemonset ${daemonSet.split('/')[1]} and its pods on those nodes`,
  );
}

/** A serving certificate that expires within this is reported: rotate it before the API server stops trusting it. */
export const EXPIRY_MARGIN_MS = 14 * 24 * 3_600_000;

export function expiryLine(what: string, notAfter: number, now: number, fix: string): CheckLine {
  const days = Math.floor((notAfter - now) / (24 * 3_600_000));
  const date = new Date(notAfter).toISOString().slice(0, 10);
  if (notAfter <= now) return failure(`${what} expired on ${date}`, fix);
  if (notAfter - now < EXPIRY_MARGIN_MS) return failure(`${what} expires in ${days} days (${date})`, fix);
  return pass(`${what} valid until ${date} (${days} days)`);
}
