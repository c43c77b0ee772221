// Reads every agent's activity and usage reports. Which agents exist comes from a directory: the agent pods
// (in the cluster) or a fixed list of URLs (for tests and unusual networks). A slow or failing
// agent costs at most the timeout and is reported, never blocking the tick on the others.

import http from 'node:http';
import { ACTIVITY_TOTALS_PATH, type ActivityTotalsReport } from '../protocol/activity.ts';
import { USAGE_PATH, type UsageReport } from '../protocol/usage.ts';

export interface AgentDirectory {
  /** Base URLs of the agents' activity ports, e.g. `http://10.1.2.3:18092`. */
  urls(): string[];
}

export class StaticAgentDirectory implements AgentDirectory {
  constructor(private readonly list: readonly string[]) {}
  urls(): string[] {
    return [...this.list];
  }
}

export interface Collected<Report> {
  reports: Report[];
  failures: { url: string; error: string }[];
}

/** Every agent's activity report (GET /activity, totals only), pulled every tick. */
export function collectActivity(directory: AgentDirectory, token: () => Promise<string>, timeoutMs = 1500): Promise<Collected<ActivityTotalsReport>> {
  return collectFromAgents<ActivityTotalsReport>(directory, token, ACTIVITY_TOTALS_PATH, timeoutMs);
}

/** Every agent's usage report (GET /usage): the kubelet's per-container figures and OOM kills. */
export function collectUsage(directory: AgentDirectory, token: () => Promise<string>, timeoutMs = 3000): Promise<Collected<UsageReport>> {
  return collectFromAgents<UsageReport>(directory, token, USAGE_PATH, timeoutMs);
}

async function collectFromAgents<Report>(directory: AgentDirectory, token: () => Promise<string>, path: string, timeoutMs: number): Promise<Collected<Report>> {
  const bearer = await token();
  const collected: Collected<Report> = { reports: [], failures: [] };
  await Promise.all(
    directory.urls().map(async (url) => {
      try {
        collected.reports.push((await fetchJson(new URL(path, url), bearer, timeoutMs)) as Report);
      } catch (error) {
        collected.failures.push({ url, error: error instanceof Error ? error.message : String(error) });
      }
    }),
  );
  return collected;
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });

function fetchJson(url: URL, bearer: string, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: keepAlive, headers: { Authorization: `Bearer ${bearer}` }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) return reject(new Error(`${url.href} answered ${res.statusCode}: ${body.trim()}`));
        try {
          resolve(JSON.parse(body));
        } catch {
          reject(new Error(`${url.href} answered with a body that is not JSON`));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url.href} did not answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
