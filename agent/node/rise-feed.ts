// The agent's side of ACTIVITY_RISES_PATH: every scrape round is compared with the report the
// controller last read (core/activity/rise.ts), and the controller's open questions are answered as
// soon as a workload's load rises, or when their wait is over.

import { RiseWatch, type LoadFigure, type RiseAnswer } from '../../src/core/activity/rise.ts';
import type { ServerResponse } from 'node:http';
import { answerJson, answerText } from '../../src/http/answer.ts';
import { parseRiseQuestion, type RiseQuestion, type RiseReport } from '../../src/protocol/activity.ts';

interface Waiter {
  saw: number | undefined;
  answer: (answer: RiseAnswer) => void;
  timer: NodeJS.Timeout;
}

export class RiseFeed {
  private readonly watch = new RiseWatch();
  private readonly waiters = new Set<Waiter>();

  constructor(private readonly node: string) {}

  /** The controller read the activity report: rises are measured from these figures again. */
  reportRead(figures: readonly LoadFigure[]): void {
    this.watch.reportRead(figures);
  }

  /** A scrape round's figures: answers every open question when a workload rose. */
  observe(figures: readonly LoadFigure[]): void {
    if (!this.watch.observe(figures)) return;
    for (const waiter of this.waiters) {
      const answer = this.watch.answerFor(waiter.saw);
      if (answer) this.settle(waiter, answer);
    }
  }

  /**
   * Answers one GET ACTIVITY_RISES_PATH, already authorized: 400 naming what is wrong with a
   * malformed question, else the answer once there is one; nothing when the caller went away first.
   */
  serve(query: URLSearchParams, res: ServerResponse): void {
    const question = parseRiseQuestion(query);
    if ('error' in question) return answerText(res, 400, question.error);
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    void this.answer(question, gone.signal).then((report) => {
      if (!res.writableEnded && !res.destroyed) answerJson(res, 200, report);
    });
  }

  /**
   * The answer to a question: at once when there is something new for it, else at the next rise,
   * else when its wait is over (the same sequence, no workloads). `cancelled` ends the wait
   * unanswered (the controller went away).
   */
  private answer(question: RiseQuestion, cancelled: AbortSignal): Promise<RiseReport> {
    const report = (answer: RiseAnswer): RiseReport => ({ node: this.node, ...answer });
    const now = this.watch.answerFor(question.since);
    if (now) return Promise.resolve(report(now));
    return new Promise((resolve) => {
      const waiter: Waiter = {
        saw: question.since,
        answer: (answer) => resolve(report(answer)),
        timer: setTimeout(() => this.settle(waiter, { sequence: this.watch.sequence, workloads: [] }), question.waitMs),
      };
      this.waiters.add(waiter);
      cancelled.addEventListener('abort', () => this.forget(waiter), { once: true });
    });
  }

  /** Questions held open now. */
  get openQuestions(): number {
    return this.waiters.size;
  }

  /** Answers every open question now (the agent is stopping: no server close waits for them). */
  close(): void {
    for (const waiter of this.waiters) this.settle(waiter, { sequence: this.watch.sequence, workloads: [] });
  }

  private settle(waiter: Waiter, answer: RiseAnswer): void {
    this.forget(waiter);
    waiter.answer(answer);
  }

  private forget(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    this.waiters.delete(waiter);
  }
}
