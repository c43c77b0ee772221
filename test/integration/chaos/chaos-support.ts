// What the chaos suite shares: reading figures from the programs' and the API server's /metrics,
// one row of figures per scenario, and the table of every row printed once at the end of the
// mocha run (a root-level hook, registered when a chaos file first imports this module) and
// written to test-output/chaos.json.

import { mkdirSync, writeFileSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { AppsV1Api } from '@kubernetes/client-node';
import type { LoadResult } from '../../fixtures/load.ts';
import { metricOf } from '../../fixtures/metrics.ts';
import { request } from '../../fixtures/processes.ts';

/** Where the figures go; test-output/ ignores itself (it writes its own .gitignore). */
export const RESULTS_DIR = 'test-output';
export const RESULTS_FILE = join(RESULTS_DIR, 'chaos.json');

/** The controller's decisions so far, by reason code (ebb_decisions_total). */
export async function decisionsByReason(controllerPort: number): Promise<Map<string, number>> {
  const reply = await request(controllerPort, '/metrics');
  const counts = new Map<string, number>();
  for (const match of reply.body.matchAll(/^ebb_decisions_total\{reason="([^"]+)"\} (\S+)$/gm)) counts.set(match[1]!, Number(match[2]));
  return counts;
}

/**
 * Writes through the scale subresource that changed the count, from the controller's metric
 * (outcome written). A guarded write refused because the count was no longer the one decided from
 * (outcome moved) wrote nothing: a tick that decides 0 → 1 from a cache that has not yet seen a
 * wake-up's own 0 → 1 is refused so, and the workload is scaled once.
 */
export const scaleWrites = (controllerPort: number) => metricOf(controllerPort, 'ebb_scale_writes_total', 'outcome="written"');
/** Decisions the controller made on fresh activity (every reason but no-data). */
export const freshDecisions = async (controllerPort: number) =>
  (await metricOf(controllerPort, 'ebb_decisions_total')) - (await metricOf(controllerPort, 'ebb_decisions_total', 'reason="no-data"'));
export const isLeader = async (controllerPort: number) => (await metricOf(controllerPort, 'ebb_controller_leader')) === 1;

/**
 * Every replica count a Deployment's spec has while this runs, read every 100 ms through the scale
 * subresource (a read that fails, while the API server is down, is skipped). Independent of ebb's
 * own count of its writes: a flap shows here as a second value.
 */
export function followReplicas(apps: AppsV1Api, namespace: string, name: string): { seen: Set<number>; stop(): Promise<void> } {
  const seen = new Set<number>();
  let running = true;
  const loop = (async () => {
    while (running) {
      await apps.readNamespacedDeploymentScale({ name, namespace }).then(
        (scale) => seen.add(scale.spec?.replicas ?? 0),
        () => undefined,
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    seen,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/**
 * The TCP connections that process `pid` opens to 127.0.0.1:port while this runs, each with when it
 * was first seen, from the kernel's table (/proc/net/tcp, sampled every 50 ms) and the process's
 * sockets (/proc/<pid>/fd): each is a new TLS handshake with the server's current certificate.
 */
export function followConnections(port: number, pid: number): { firstSeen: Map<string, number>; established(): number; stop(): Promise<void> } {
  const firstSeen = new Map<string, number>();
  let established = 0;
  const notOurs = new Set<string>();
  const server = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const socketsOf = async () => {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
    const links = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
    return new Set(links.filter((link) => link.startsWith('socket:[')).map((link) => link.slice('socket:['.length, -1)));
  };
  let running = true;
  const loop = (async () => {
    while (running) {
      const table = await readFile('/proc/net/tcp', 'utf8').catch(() => '');
      // Columns: sl, local, remote, state (01: ESTABLISHED), queues, timer, retransmits, uid, timeout, inode.
      const current = table
        .split('\n')
        .slice(1)
        .map((line) => line.trim().split(/\s+/))
        .filter((cells) => cells[2] === server && cells[3] === '01')
        .map((cells) => `${cells[1]} ${cells[9]}`);
      const fresh = current.filter((key) => !firstSeen.has(key) && !notOurs.has(key));
      if (fresh.length > 0) {
        const sockets = await socketsOf();
        for (const key of fresh) {
          if (sockets.has(key.split(' ')[1]!)) firstSeen.set(key, Date.now());
          else notOurs.add(key);
        }
      }
      established = current.filter((key) => firstSeen.has(key)).length;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    firstSeen,
    established: () => established,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

export interface ClientFigures {
  sent: number;
  ok: number;
  /** 503 with Retry-After: the activator's answer when it cannot forward. */
  unavailableWithRetryAfter: number;
  /** Anything else: an error (refused, reset, hung up) or another status. Must be 0. */
  failed: number;
}

export function clientFigures(result: LoadResult): ClientFigures {
  const ok = result.statuses.get(200) ?? 0;
  const answeredOtherwise = result.answered - ok - result.unavailableWithRetryAfter;
  const errors = [...result.errors.values()].reduce((sum, count) => sum + count, 0);
  return { sent: result.sent, ok, unavailableWithRetryAfter: result.unavailableWithRetryAfter, failed: answeredOtherwise + errors };
}

/** What went wrong, for an assertion's message. */
export const describeFailures = (result: LoadResult) =>
  JSON.stringify({ statuses: Object.fromEntries(result.statuses), errors: Object.fromEntries(result.errors), sent: result.sent, answered: result.answered });

export interface ChaosRow extends ClientFigures {
  scenario: string;
  /** Writes to the scale subresource by ebb during the scenario that changed the count (ebb_scale_writes_total{outcome="written"}). */
  scaleWrites: number;
  /** What the scenario expected of them, in words (e.g. "0: no flapping", "1: the wake-up"). */
  expectedWrites: string;
  durationS: number;
  /** Figures of the fault itself (takeover time, pods admitted, …). */
  details: Record<string, number | string>;
}

const rows: ChaosRow[] = [];

/** What a scenario ran: its loads, and how ebb and the fault behaved. */
export interface ScenarioRun extends Pick<ChaosRow, 'scenario' | 'scaleWrites' | 'expectedWrites' | 'details'> {
  /** The clients' loads, their figures summed. */
  loads: readonly LoadResult[];
  /** Epoch ms: the scenario lasted until it is recorded. */
  startedAt: number;
}

/** Records the scenario's row for the table; returns the clients' figures, summed over its loads, for its assertions. */
export function recordScenario({ loads, startedAt, ...run }: ScenarioRun): ClientFigures {
  const figures = loads.map(clientFigures).reduce((sum, next) => ({
    sent: sum.sent + next.sent,
    ok: sum.ok + next.ok,
    unavailableWithRetryAfter: sum.unavailableWithRetryAfter + next.unavailableWithRetryAfter,
    failed: sum.failed + next.failed,
  }));
  const row = { ...run, ...figures, durationS: Math.round((Date.now() - startedAt) / 1000) };
  rows.push(row);
  console.log(`      ${row.scenario}: ${JSON.stringify({ ...row, scenario: undefined })}`);
  return figures;
}

/** The rows in scenario order ((a) … (e)), whatever order the files ran in. */
const sorted = () => [...rows].sort((a, b) => a.scenario.slice(0, 3).localeCompare(b.scenario.slice(0, 3)));

function table(): string {
  const header = ['scenario', 'requests sent', 'answered OK', '503 + Retry-After', 'failed otherwise', 'scale writes', 'what the fault did'];
  const lines = sorted().map((row) => [
    row.scenario,
    String(row.sent),
    String(row.ok),
    String(row.unavailableWithRetryAfter),
    String(row.failed),
    `${row.scaleWrites} (${row.expectedWrites})`,
    Object.entries(row.details)
      .map(([key, value]) => `${key} ${value}`)
      .join('; '),
  ]);
  return [header, header.map(() => '---'), ...lines].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

// Root-level: runs once, after every file of the run.
after(function () {
  if (rows.length === 0) return;
  const loadAverage = Math.round(loadavg()[0]! * 10) / 10;
  console.log(`\n  Chaos figures (load average ${loadAverage} on ${cpus().length} cores; also in ${RESULTS_FILE}):\n\n${table()}\n`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(join(RESULTS_DIR, '.gitignore'), '*\n');
  writeFileSync(
    RESULTS_FILE,
    `${JSON.stringify({ command: 'npm run test:chaos', at: new Date().toISOString(), loadAverage, cores: cpus().length, scenarios: sorted() }, null, 2)}\n`,
  );
});
