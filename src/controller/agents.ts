// Reads every agent's activity and usage reports. Which agents exist comes from a directory: the agent pods
// (in the cluster) or a fixed list of URLs (for tests and unusual networks). A slow or failing
// agent costs at most the timeout and is reported, never blocking the tick on the others.

import http from 'node:http';
import { ACTIVITY_COLUMNS_PATH, readActivityColumns, type ActivityColumns } from '../protocol/activity.ts';
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

/** Every agent's activity report (GET /activity, totals as columns), pulled every tick. */
export function collectActivity(directory: AgentDirectory, token: () => Promise<string>, timeoutMs = 1500): Promise<Collected<ActivityColumns>> {
  return collectFromAgents(directory, token, { path: ACTIVITY_COLUMNS_PATH, read: readActivityColumns, timeoutMs });
}

/**
 * Every agent's usage report (GET /usage): the kubelet's per-container figures and OOM kills.
 * `beforeParse` is awaited before the reports are parsed: at 10,000 pods they are megabytes of
 * JSON, which the tick should not find parsed inside its own waits, nor held while it collects.
 */
export function collectUsage(
  directory: AgentDirectory,
  token: () => Promise<string>,
  beforeParse?: () => Promise<void>,
  timeoutMs = 3000,
): Promise<Collected<UsageReport>> {
  return collectFromAgents<UsageReport>(directory, token, { path: USAGE_PATH, timeoutMs, beforeParse });
}

interface Question<Report> {
  path: string;
  timeoutMs: number;
  /** The report in a parsed body, or what is wrong with it; without it, any JSON is taken as the report. */
  read?: (value: unknown) => Report | { error: string };
  /**
   * Without it, each body is parsed as it arrives: the tick's activity reports are then parsed
   * while the slower agents are still answering, not all after the last one.
   */
  beforeParse?: () => Promise<void>;
}

async function collectFromAgents<Report>(directory: AgentDirectory, token: () => Promise<string>, question: Question<Report>): Promise<Collected<Report>> {
  const { path, timeoutMs, read = (value: unknown) => value as Report, beforeParse } = question;
  const bearer = await token();
  const bodies: { url: string; body: string }[] = [];
  const collected: Collected<Report> = { reports: [], failures: [] };
  const failed = (url: string, error: unknown) => collected.failures.push({ url, error: error instanceof Error ? error.message : String(error) });
  const parse = ({ url, body }: { url: string; body: string }) => {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      return failed(url, new Error(`${new URL(path, url).href} answered with a body that is not JSON`));
    }
    const report = read(value);
    if (isError(report)) return failed(url, new Error(`${new URL(path, url).href} answered with a report that cannot be read: ${report.error}`));
    collected.reports.push(report);
  };
  await Promise.all(
    directory.urls().map(async (url) => {
      try {
        const answered = { url, body: await fetchBody(new URL(path, url), bearer, timeoutMs) };
        if (beforeParse) bodies.push(answered);
        else parse(answered);
      } catch (error) {
        failed(url, error);
      }
    }),
  );
  if (beforeParse) {
    await beforeParse();
    bodies.forEach(parse);
  }
  return collected;
}

const isError = (read: unknown): read is { error: string } =>
  typeof read === 'object' && read !== null && typeof (read as { error?: unknown }).error === 'string';

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });

/**
 * The body of a 200 answer; anything else is an error naming the URL. `timeoutMs` is how long the
 * connection may stay silent; `via` the connection pool (the tick's, unless a caller keeps its own).
 */
export function fetchBody(url: URL, bearer: string, timeoutMs: number, via: { agent?: http.Agent; signal?: AbortSignal } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const options = { agent: via.agent ?? keepAlive, headers: { Authorization: `Bearer ${bearer}` }, timeout: timeoutMs, signal: via.signal };
    const req = http.get(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) return reject(new Error(`${url.href} answered ${res.statusCode}: ${body.trim()}`));
        resolve(body);
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url.href} did not answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
