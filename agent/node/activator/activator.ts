// The activator: accepts requests for workloads at zero, holds them (bounded, with a deadline),
// asks the controller once per workload for a replica, and forwards the held requests in arrival
// order as soon as a backend is ready. Every held request ends exactly one way: forwarded once,
// refused with a 503 (cap, deadline), or dropped because its client went away (never forwarded).
// The decisions are the pure HoldLedger's and WakeSchedule's; this file owns the sockets.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { HoldLimits } from '../../../src/core/activity/hold-ledger.ts';
import { HoldLedger } from '../../../src/core/activity/hold-ledger.ts';
import { routeRequest, type SleepingService } from '../../../src/core/activity/route.ts';
import { WakeSchedule } from '../../../src/core/activity/wake-schedule.ts';
import { WORKLOAD_HEADER } from '../../../src/protocol/activator.ts';
import { parseWorkloadKey, type WorkloadKey } from '../../../src/protocol/workload.ts';
import { forwardRequestHeaders, forwardResponseHeaders } from '../../http/headers.ts';
import { answerUpstreamFailure, describeUpstreamFailure } from '../../http/upstream-errors.ts';
import type { WakeOutcome } from '../metrics.ts';
import type { Backend, WorkloadDirectory } from './directory.ts';
import type { WakeCall } from './wake-client.ts';

export interface ActivatorOptions {
  directory: WorkloadDirectory;
  /** undefined: no controller to ask (a test wakes the backend itself). */
  wake: WakeCall | undefined;
  node: string;
  limits: HoldLimits;
  /** Retry-After sent with every 503. */
  retryAfterSeconds?: number;
  log?: (entry: Record<string, unknown>) => void;
  onWakeOutcome?: (outcome: WakeOutcome) => void;
}

interface HeldRequest {
  id: number;
  req: IncomingMessage;
  res: ServerResponse;
  target: SleepingService;
  chunks: Buffer[];
  bodyEnded: boolean;
  onData: (chunk: Buffer) => void;
}

function headBytes(req: IncomingMessage): number {
  let bytes = (req.method?.length ?? 0) + (req.url?.length ?? 0) + 12;
  for (const field of req.rawHeaders) bytes += field.length + 2;
  return bytes;
}

export class Activator {
  private readonly ledger: HoldLedger;
  private readonly wakes = new WakeSchedule();
  private readonly held = new Map<number, HeldRequest>();
  /** Per workload, how to stop waiting for its backend (present while we wait). */
  private readonly waiting = new Map<WorkloadKey, () => void>();
  private deadlineTimer: NodeJS.Timeout | undefined;
  private deadlineAt = Infinity;
  // A released burst goes to a pod that has just started: 64 connections per backend carry it
  // (measured as fast as 256 in test/bench/activator.ts) without a connection storm.
  private readonly pool = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly retryAfter: number;
  private readonly log: (entry: Record<string, unknown>) => void;

  constructor(private readonly options: ActivatorOptions) {
    this.ledger = new HoldLedger(options.limits);
    this.retryAfter = options.retryAfterSeconds ?? 1;
    this.log = options.log ?? ((entry) => console.log(JSON.stringify(entry)));
  }

  heldByWorkload(): Map<WorkloadKey, number> {
    return new Map(this.ledger.workloads().map((w) => [w, this.ledger.held(w)]));
  }

  heldBytes(): number {
    return this.ledger.heldBytes();
  }

  readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const route = this.route(req);
    if (!route.found) return this.refuse(res, 502, `activator: ${route.reason}`);
    const { target } = route;
    const admission = this.ledger.admit(target.workload, headBytes(req), performance.now());
    if (!admission.admitted) return this.refuse(res, 503, `activator: not holding the request: ${admission.reason}`);

    const entry: HeldRequest = { id: admission.id, req, res, target, chunks: [], bodyEnded: false, onData: () => undefined };
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
    this.awaitBackend(target);
  };

  /** Upgrades are not held (a held socket has no deadline answer); they wake and are told to retry. */
  readonly onUpgrade = (req: IncomingMessage, socket: Duplex): void => {
    const route = this.route(req);
    if (route.found) this.wakeOnce(route.target);
    const body = route.found ? 'activator: the workload is waking up; retry\n' : `activator: ${route.reason}\n`;
    const status = route.found ? 503 : 502;
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nRetry-After: ${this.retryAfter}\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  };

  close(): void {
    clearTimeout(this.deadlineTimer);
    for (const cancel of this.waiting.values()) cancel();
    this.pool.destroy();
  }

  private route(req: IncomingMessage) {
    const header = req.headers[WORKLOAD_HEADER];
    const workload = typeof header === 'string' ? parseWorkloadKey(header) : undefined;
    return routeRequest(req.headers.host, workload, this.options.directory.sleeping());
  }

  private refuse(res: ServerResponse, status: 502 | 503, message: string): void {
    if (res.headersSent || res.destroyed) return;
    const headers: Record<string, string | number> = { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(message) + 1, Connection: 'close' };
    if (status === 503) headers['Retry-After'] = this.retryAfter;
    res.writeHead(status, headers);
    res.end(`${message}\n`);
  }

  /** Takes a held request out of the ledger (once) and does `then` with it. */
  private finish(entry: HeldRequest, then: () => void): void {
    if (!this.held.delete(entry.id)) return;
    this.ledger.remove(entry.id);
    entry.req.off('data', entry.onData);
    then();
    this.endEpisodeIfEmpty(entry.target.workload);
  }

  private endEpisodeIfEmpty(workload: WorkloadKey): void {
    if (this.ledger.held(workload) > 0) return;
    this.waiting.get(workload)?.();
    this.waiting.delete(workload);
    this.wakes.reset(workload);
  }

  private wakeOnce(target: SleepingService): void {
    const wake = this.options.wake;
    const workload = target.workload;
    if (!wake || !this.wakes.due(workload, performance.now())) return;
    this.wakes.started(workload);
    const request = { workload, node: this.options.node, held: this.ledger.held(workload), ...(target.service ? { service: target.service } : {}) };
    wake(request).then(
      (response) => {
        this.wakes.succeeded(workload);
        this.options.onWakeOutcome?.(response.accepted ? 'accepted' : 'declined');
        this.log({ msg: 'wake requested', workload, accepted: response.accepted, reason: response.reason });
      },
      (error: unknown) => {
        this.wakes.failed(workload, performance.now());
        this.options.onWakeOutcome?.('failed');
        const retryIn = this.wakes.retryIn(workload, performance.now()) ?? 0;
        this.log({ msg: 'wake request failed', workload, error: String(error), retryInMs: retryIn });
        setTimeout(() => {
          if (this.ledger.held(workload) > 0) this.wakeOnce(target);
        }, retryIn).unref();
      },
    );
  }

  private awaitBackend(target: SleepingService): void {
    const workload = target.workload;
    if (this.waiting.has(workload)) return;
    // The directory may call back at once (a backend is already ready): mark the wait first.
    let settled = false;
    this.waiting.set(workload, () => undefined);
    const cancel = this.options.directory.whenReady(target, (backend) => {
      settled = true;
      this.waiting.delete(workload);
      this.release(workload, backend);
    });
    if (!settled) this.waiting.set(workload, cancel);
  }

  private release(workload: WorkloadKey, backend: Backend): void {
    this.wakes.reset(workload);
    for (const id of this.ledger.release(workload)) {
      const entry = this.held.get(id);
      if (!entry) continue;
      this.held.delete(id);
      this.forward(entry, backend);
    }
  }

  private forward(entry: HeldRequest, backend: Backend): void {
    const { req, res } = entry;
    const address = `${backend.host}:${backend.port}`;
    const upstream = http.request({
      host: backend.host,
      port: backend.port,
      method: req.method,
      path: req.url,
      headers: forwardRequestHeaders(req.rawHeaders, { clientAddress: req.socket.remoteAddress, proto: 'http' }),
      agent: this.pool,
      setHost: false,
    });
    upstream.on('response', (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, forwardResponseHeaders(upstreamRes.rawHeaders));
      upstreamRes.pipe(res);
      upstreamRes.on('error', () => res.destroy());
    });
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (!res.closed) answerUpstreamFailure(res, describeUpstreamFailure(address, error), this.retryAfter);
    });
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    // What arrived of the body while held goes first; the rest streams through.
    req.off('data', entry.onData);
    for (const chunk of entry.chunks) upstream.write(chunk);
    entry.chunks = [];
    if (entry.bodyEnded) upstream.end();
    else req.pipe(upstream);
  }

  private armDeadline(deadline: number): void {
    if (deadline >= this.deadlineAt) return;
    clearTimeout(this.deadlineTimer);
    this.deadlineAt = deadline;
    this.deadlineTimer = setTimeout(() => this.expire(), Math.max(0, deadline - performance.now()));
  }

  private expire(): void {
    this.deadlineAt = Infinity;
    const now = performance.now();
    for (const id of this.ledger.expire(now)) {
      const entry = this.held.get(id);
      if (!entry) continue;
      this.held.delete(id);
      entry.req.off('data', entry.onData);
      this.refuse(entry.res, 503, `activator: ${entry.target.workload} did not become ready within the hold deadline`);
      this.endEpisodeIfEmpty(entry.target.workload);
    }
    const next = this.ledger.nextDeadline();
    if (next !== undefined) this.armDeadline(next);
  }
}
