// The leader's open question at every agent (ACTIVITY_RISES_PATH): "tell me when a workload's load
// rises on your node". The tick reads the agents every 2 s; a burst that began just after a read
// waited a whole period before anything decided on it (bench:controller: reactions of 2.0-2.1 s).
// When an agent answers with workloads, the controller runs a tick ahead of the schedule
// (TickGate.early). A question that fails is asked again after a pause; the tick's own reads go on
// regardless, so a lost answer costs at most the wait for the next scheduled tick.

import http from 'node:http';
import { setTimeout as pause } from 'node:timers/promises';
import { DEFAULT_RISE_WAIT_MS, isRiseReport, riseQuestionPath, type RiseReport } from '../protocol/activity.ts';
import { fetchBody } from './agents.ts';

export interface AgentRisesOptions {
  token: () => Promise<string>;
  /** An agent saw these workloads' load rise since the controller last read it. */
  onRise: (report: RiseReport) => void;
  /** A question failed, told once until one to the same agent is answered again. */
  onFailure: (url: string, error: string) => void;
  /** How long an agent holds a question. */
  waitMs?: number;
  /** The pause before asking again after a failure. */
  retryMs?: number;
}

/** Time for an answer to arrive after the agent's wait is over. */
const ANSWER_MARGIN_MS = 5_000;

export class AgentRises {
  /** The agents asked, each with what ends its questions. */
  private readonly asking = new Map<string, AbortController>();
  /** Its own pool: the open questions never hold the sockets the tick's reads need. */
  private readonly pool = new http.Agent({ keepAlive: true });

  constructor(private readonly options: AgentRisesOptions) {}

  /** Keeps one question open at each of these agents (by base URL) and at no other. */
  follow(urls: readonly string[]): void {
    const wanted = new Set(urls);
    for (const [url, questions] of this.asking) {
      if (wanted.has(url)) continue;
      questions.abort();
      this.asking.delete(url);
    }
    for (const url of wanted) {
      if (this.asking.has(url)) continue;
      const questions = new AbortController();
      this.asking.set(url, questions);
      void this.ask(url, questions.signal);
    }
  }

  stop(): void {
    this.follow([]);
    this.pool.destroy();
  }

  private async ask(url: string, stopped: AbortSignal): Promise<void> {
    const { token, onRise, onFailure, waitMs = DEFAULT_RISE_WAIT_MS, retryMs = 5_000 } = this.options;
    let since: number | undefined;
    let failing = false;
    while (!stopped.aborted) {
      try {
        const body = await fetchBody(new URL(riseQuestionPath({ since, waitMs }), url), await token(), waitMs + ANSWER_MARGIN_MS, {
          agent: this.pool,
          signal: stopped,
        });
        const report: unknown = JSON.parse(body);
        if (!isRiseReport(report)) throw new Error(`${url} answered a rise question with something that is not a rise report`);
        // The first answer only says where the agent's count stands.
        if (since !== undefined && report.workloads.length > 0) onRise(report);
        since = report.sequence;
        failing = false;
      } catch (error) {
        if (stopped.aborted) return;
        if (!failing) onFailure(url, error instanceof Error ? error.message : String(error));
        failing = true;
        // Ended at once when the agent is no longer followed.
        await pause(retryMs, undefined, { signal: stopped }).catch(() => undefined);
      }
    }
  }
}
