// The activator: holds requests for Services at zero (bounded, with a deadline), asks the
// controller once per workload for a replica, and forwards the held requests in arrival order as
// soon as a backend is ready. Every held request ends exactly one way: forwarded once, refused
// with a 503 and Retry-After (cap, deadline, shutdown), or dropped because its client went away
// (never forwarded). Which Service a request is for is decided by the caller, from the port it
// arrived on (listeners.ts), never from the request. The decisions are the pure HoldLedger's and
// WakeSchedule's; this file owns the sockets; time is the clock's. An HTTP/2 stream (h2c on the same
// port, as Node's compatibility request and response) is held exactly as a request is, counted one
// per stream, and forwarded as an HTTP/2 stream to the backend's interceptor.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { HoldLimits } from '../../../src/core/activity/hold-ledger.ts';
import { HoldLedger } from '../../../src/core/activity/hold-ledger.ts';
import { targetKey, type SleepingService } from '../../../src/core/activity/route.ts';
import { WakeSchedule } from '../../../src/core/activity/wake-schedule.ts';
import { answerText } from '../../../src/http/answer.ts';
import { endUpgraded, rawAnswer } from '../../../src/http/raw-response.ts';
import type { Log } from '../../../src/program/log.ts';
import type { WorkloadKey } from '../../../src/protocol/workload.ts';
import { forward } from '../../http/forward.ts';
import { answerStreamText, forwardStream, Http2Sessions } from '../../http/h2-forward.ts';
import type { WakeOutcome } from '../metrics.ts';
import { systemTimerClock, type TimerClock } from './clock.ts';
import type { Backend, BackendSource } from './directory.ts';
import type { WakeCall } from './wake-client.ts';

/** After a drain's hold time, answers already being forwarded get this long to finish. */
const FORWARD_GRACE_MS = 5_000;

export interface ActivatorOptions {
  directory: BackendSource;
  /** undefined: no controller to ask (a test wakes the backend itself). */
  wake: WakeCall | undefined;
  node: string;
  limits: HoldLimits;
  /** Retry-After sent with every 503. */
  retryAfterSeconds?: number;
  /** The system's unless a test drives time. */
  clock?: TimerClock;
  log: Log;
  onWakeOutcome?: (outcome: WakeOutcome) => void;
}

/** A request to hold: HTTP/1.1, or an HTTP/2 stream. */
export type HeldMessage = IncomingMessage | http2.Http2ServerRequest;
export type HeldAnswer = ServerResponse | http2.Http2ServerResponse;

interface HeldRequest {
  id: number;
  req: HeldMessage;
  res: HeldAnswer;
  target: SleepingService;
  /** The ledger queue: one per Service port (targetKey). */
  queue: string;
  chunks: Buffer[];
  bodyEnded: boolean;
  onData: (chunk: Buffer) => void;
}

interface Drain {
  done: Promise<void>;
  finish: () => void;
  /** The hold time is over: what is still held, or arrives, is refused. */
  holdOver: boolean;
}

function headBytes(req: HeldMessage): number {
  let bytes = (req.method?.length ?? 0) + (req.url?.length ?? 0) + 12;
  for (const field of req.rawHeaders) bytes += field.length + 2;
  return bytes;
}

export class Activator {
  private readonly ledger: HoldLedger;
  private readonly wakes = new WakeSchedule();
  private readonly held = new Map<number, HeldRequest>();
  /** Per queue, how to stop waiting for its backend (present while we wait). */
  private readonly waiting = new Map<string, () => void>();
  /** Per workload, how to cancel its scheduled wake retry. */
  private readonly wakeRetries = new Map<WorkloadKey, () => void>();
  private cancelDeadline: (() => void) | undefined;
  private deadlineAt = Infinity;
  /** Held requests released to a backend whose answer has not ended yet. */
  private forwarding = 0;
  private drainState: Drain | undefined;
  // A released burst goes to a pod that has just started: 64 connections per backend carry it
  // (measured as fast as 256 in test/bench/activator.ts) without a connection storm.
  private readonly pool = new http.Agent({ keepAlive: true, maxSockets: 64 });
  /** HTTP/2 streams go to a backend over one session each. */
  private readonly sessions = new Http2Sessions();
  private readonly retryAfter: number;
  /** The activator's time; its listeners pace their retries by it too. */
  readonly clock: TimerClock;
  private readonly log: Log;

  constructor(private readonly options: ActivatorOptions) {
    this.ledger = new HoldLedger(options.limits);
    this.retryAfter = options.retryAfterSeconds ?? 1;
    this.clock = options.clock ?? systemTimerClock;
    this.log = options.log;
  }

  heldByWorkload(): Map<WorkloadKey, number> {
    return new Map(this.ledger.workloads().map((w) => [w, this.ledger.held(w)]));
  }

  /** The request handler for the port that carries `target`'s traffic. */
  serve(target: SleepingService): (req: HeldMessage, res: HeldAnswer) => void {
    const queue = targetKey(target);
    return (req, res) => this.hold(target, queue, req, res);
  }

  /** Upgrades are not held (a held socket has no deadline answer); they wake and are told to retry. */
  upgrade(target: SleepingService): (req: IncomingMessage, socket: Duplex) => void {
    return (_req, socket) => {
      this.wakeOnce(target);
      // The client may have gone, or ended its side, before this answer: endUpgraded writes nothing
      // then (a write after the end took the whole agent down in the fuzz suite under load).
      endUpgraded(socket, rawAnswer(503, 'activator: the workload is waking up; retry', [['Retry-After', String(this.retryAfter)]]));
    };
  }

  /**
   * Shutdown (the listeners no longer accept): every held request still gets exactly one answer.
   * Held requests keep waiting for their backend for `holdMs`, then get a 503 with Retry-After;
   * answers being forwarded then get FORWARD_GRACE_MS more. Resolves when nothing is held or
   * being forwarded, or when that time is up.
   */
  drain(holdMs: number): Promise<void> {
    if (this.drainState) return this.drainState.done;
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const drain: Drain = { done, finish, holdOver: false };
    this.drainState = drain;
    const cancelHold = this.clock.setTimeout(() => {
      drain.holdOver = true;
      for (const entry of [...this.held.values()])
        this.finish(entry, () => this.refuse(entry.res, 503, `activator: the agent is shutting down and ${entry.target.workload} was not ready in time`));
    }, holdMs);
    const cancelGrace = this.clock.setTimeout(finish, holdMs + FORWARD_GRACE_MS);
    this.finishDrainIfIdle();
    return done.then(() => {
      cancelHold();
      cancelGrace();
    });
  }

  close(): void {
    this.cancelDeadline?.();
    for (const cancel of this.waiting.values()) cancel();
    for (const cancel of this.wakeRetries.values()) cancel();
    this.drainState?.finish();
    this.pool.destroy();
    this.sessions.close();
  }

  private hold(target: SleepingService, queue: string, req: HeldMessage, res: HeldAnswer): void {
    if (this.drainState?.holdOver) return this.refuse(res, 503, 'activator: the agent is shutting down');
    const admission = this.ledger.admit(target.workload, headBytes(req), this.clock.monotonicMs(), queue);
    if (!admission.admitted) return this.refuse(res, 503, `activator: not holding the request: ${admission.reason}`);

    const entry: HeldRequest = { id: admission.id, req, res, target, queue, chunks: [], bodyEnded: false, onData: () => undefined };
    entry.onData = (chunk) => {
      const overCap = this.ledger.grow(entry.id, chunk.length);
      if (overCap === undefined) entry.chunks.push(chunk);
      else this.finish(entry, () => this.refuse(res, 503, `activator: not holding the request: ${overCap}`));
    };
    this.held.set(entry.id, entry);
    req.on('data', entry.onData);
    req.once('end', () => (entry.bodyEnded = true));
    // The client went away while we held its request: drop it, never forward it.
    res.once('close', () => this.finish(entry, () => undefined));

    this.armDeadline(admission.deadline);
    this.wakeOnce(target);
    this.awaitBackend(target, queue);
  }

  private refuse(res: HeldAnswer, status: 503, message: string): void {
    // HTTP/2 has no Connection header: its session closes with GOAWAY (listeners.ts).
    if (res instanceof http2.Http2ServerResponse) return answerStreamText(res.stream, status, message, { 'retry-after': String(this.retryAfter) });
    if (res.headersSent || res.destroyed) return;
    answerText(res, status, message, { Connection: 'close', 'Retry-After': this.retryAfter });
  }

  /** Takes a held request out of the ledger (once) and does `then` with it. */
  private finish(entry: HeldRequest, then: () => void): void {
    if (!this.held.delete(entry.id)) return;
    this.ledger.remove(entry.id);
    entry.req.off('data', entry.onData);
    then();
    this.endEpisodeIfEmpty(entry.target.workload, entry.queue);
  }

  /** A queue with nothing held stops waiting for its backend; a workload with nothing held, for its wake-up. */
  private endEpisodeIfEmpty(workload: WorkloadKey, queue: string): void {
    if (this.ledger.queued(queue) === 0) {
      this.waiting.get(queue)?.();
      this.waiting.delete(queue);
    }
    if (this.ledger.held(workload) === 0) {
      this.wakes.reset(workload);
      this.wakeRetries.get(workload)?.();
      this.wakeRetries.delete(workload);
    }
    this.finishDrainIfIdle();
  }

  private finishDrainIfIdle(): void {
    if (this.drainState && this.held.size === 0 && this.forwarding === 0) this.drainState.finish();
  }

  private wakeOnce(target: SleepingService): void {
    const wake = this.options.wake;
    const workload = target.workload;
    if (!wake || !this.wakes.due(workload, this.clock.monotonicMs())) return;
    this.wakes.started(workload);
    const request = { workload, node: this.options.node, held: this.ledger.held(workload), ...(target.service ? { service: target.service } : {}) };
    wake(request).then(
      (response) => {
        this.wakes.succeeded(workload);
        this.options.onWakeOutcome?.(response.accepted ? 'accepted' : 'declined');
        this.log('info', 'wake requested', { workload, accepted: response.accepted, reason: response.reason });
      },
      (error: unknown) => {
        this.wakes.failed(workload, this.clock.monotonicMs());
        this.options.onWakeOutcome?.('failed');
        const retryIn = this.wakes.retryIn(workload, this.clock.monotonicMs());
        this.log('warn', 'wake request failed', { workload, error: String(error), retryInMs: retryIn });
        if (retryIn === undefined) return; // the episode ended meanwhile
        this.wakeRetries.set(
          workload,
          this.clock.setTimeout(() => {
            this.wakeRetries.delete(workload);
            if (this.ledger.held(workload) > 0) this.wakeOnce(target);
          }, retryIn),
        );
      },
    );
  }

  private awaitBackend(target: SleepingService, queue: string): void {
    if (this.waiting.has(queue)) return;
    // The directory may call back at once (a backend is already ready): mark the wait first.
    let settled = false;
    this.waiting.set(queue, () => undefined);
    const cancel = this.options.directory.whenReady(target, (backend) => {
      settled = true;
      this.waiting.delete(queue);
      this.release(target.workload, queue, backend);
    });
    if (!settled) this.waiting.set(queue, cancel);
  }

  private release(workload: WorkloadKey, queue: string, backend: Backend): void {
    for (const id of this.ledger.release(queue)) {
      const entry = this.held.get(id);
      if (!entry) continue;
      this.held.delete(id);
      this.forward(entry, backend);
    }
    this.endEpisodeIfEmpty(workload, queue);
  }

  private forward(entry: HeldRequest, backend: Backend): void {
    const { req, res } = entry;
    if (req instanceof http2.Http2ServerRequest) return this.forwardStream(entry, req, backend);
    // Its client's connection closed while it was held (a pipelined request read after the close):
    // nobody is there for the answer, and the forwarding headers could no longer name the client.
    if (req.socket.remoteAddress === undefined) return void res.destroy();
    this.countForwarding(res);
    forward(
      req,
      res as ServerResponse,
      { host: backend.host, port: backend.port, agent: this.pool },
      {
        retryAfterSeconds: this.retryAfter,
        // What arrived of the body while held goes first; the rest streams through.
        sendBody: (upstream) => {
          req.off('data', entry.onData);
          for (const chunk of entry.chunks) upstream.write(chunk);
          entry.chunks = [];
          if (entry.bodyEnded) upstream.end();
          else req.pipe(upstream);
        },
      },
    );
  }

  /** Counts an answer being forwarded until it closes: a drain waits for it. */
  private countForwarding(res: HeldAnswer): void {
    this.forwarding += 1;
    res.once('close', () => {
      this.forwarding -= 1;
      this.finishDrainIfIdle();
    });
  }

  /** A held HTTP/2 stream: what arrived of its body while held goes first; the rest streams through. */
  private forwardStream(entry: HeldRequest, req: http2.Http2ServerRequest, backend: Backend): void {
    this.countForwarding(entry.res);
    req.off('data', entry.onData);
    const buffered = entry.chunks;
    entry.chunks = [];
    forwardStream(
      req.stream,
      req.rawHeaders,
      { buffered, rest: entry.bodyEnded ? undefined : req },
      { host: backend.host, port: backend.port, sessions: this.sessions },
      {
        retryAfterSeconds: this.retryAfter,
        trailers: (fields) => (entry.res as http2.Http2ServerResponse).addTrailers(fields),
      },
    );
  }

  private armDeadline(deadline: number): void {
    if (deadline >= this.deadlineAt) return;
    this.cancelDeadline?.();
    this.deadlineAt = deadline;
    this.cancelDeadline = this.clock.setTimeout(() => this.expire(), Math.max(0, deadline - this.clock.monotonicMs()));
  }

  private expire(): void {
    this.deadlineAt = Infinity;
    for (const id of this.ledger.expire(this.clock.monotonicMs())) {
      const entry = this.held.get(id);
      if (entry) this.finish(entry, () => this.refuse(entry.res, 503, `activator: ${entry.target.workload} did not become ready within the hold deadline`));
    }
    const next = this.ledger.nextDeadline();
    if (next !== undefined) this.armDeadline(next);
  }
}
