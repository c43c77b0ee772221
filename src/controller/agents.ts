// Reads every agent's activity report. Which agents exist comes from a directory: the agent pods
// (in the cluster) or a fixed list of URLs (for tests and unusual networks). A slow or failing
// agent costs at most the timeout and is reported, never blocking the tick on the others.

import http from 'node:http';
import { ACTIVITY_PATH, type ActivityReport } from '../protocol/activity.ts';

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

export interface CollectedActivity {
  reports: ActivityReport[];
  failures: { url: string; error: string }[];
}

export async function collectActivity(directory: AgentDirectory, token: () => Promise<string>, timeoutMs = 1500): Promise<CollectedActivity> {
  const bearer = await token();
  const collected: CollectedActivity = { reports: [], failures: [] };
  await Promise.all(
    directory.urls().map(async (url) => {
      try {
        collected.reports.push(await fetchReport(url, bearer, timeoutMs));
      } catch (error) {
        collected.failures.push({ url, error: error instanceof Error ? error.message : String(error) });
      }
    }),
  );
  return collected;
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });

function fetchReport(baseUrl: string, bearer: string, timeoutMs: number): Promise<ActivityReport> {
  return new Promise((resolve, reject) => {
    const req = http.get(new URL(ACTIVITY_PATH, baseUrl), { agent: keepAlive, headers: { Authorization: `Bearer ${bearer}` }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) return reject(new Error(`${baseUrl}${ACTIVITY_PATH} answered ${res.statusCode}: ${body.trim()}`));
        try {
          resolve(JSON.parse(body) as ActivityReport);
        } catch {
          reject(new Error(`${baseUrl}${ACTIVITY_PATH} answered with a body that is not JSON`));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${baseUrl}${ACTIVITY_PATH} did not answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
