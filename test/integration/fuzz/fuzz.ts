// Throws generated cases (malformed.ts) at one HTTP surface over real sockets and checks what every
// surface owes a hostile client:
// - an end within BOUND_MS: its answers, or the connection closed (never a hang);
// - no 5xx for the client's own error, unless the surface says why that one is right;
// - every 4xx with a message;
// - the server still answers a valid request after each case (nothing crashed or wedged), and has
//   let go of what the case left (a surface's `settled`: nothing in flight, nothing held, no
//   request smuggled past a forwarding hop);
// - heap bounded: after all cases, within HEAP_GROWTH_BOUND of before (measured after a full GC).
// The run is seeded: a failure prints fast-check's seed and path; EBB_FUZZ_SEED=<seed> replays it.

import { expect } from 'chai';
import fc from 'fast-check';
import { once } from 'node:events';
import type http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createHttpServer } from '../../../src/http/server.ts';
import { fuzzCase, render, writesOf, type FuzzCase, type SurfaceShape } from './malformed.ts';
import { cutOff, exchange, parseResponses, type Endpoint, type Exchange, type RawResponse } from './raw-http.ts';

export interface Surface extends SurfaceShape {
  name: string;
  endpoint: Endpoint;
  /** A 5xx that is right for bad input here, and why (the activator's 503 while it cannot hold a request); `head`: it answers a HEAD, without a body. */
  acceptable5xx?: (response: RawResponse, head: boolean) => boolean;
  /** Resolves once the surface has let go of everything a case left (it counts nothing in flight, holds nothing). */
  settled?: () => Promise<void>;
}

/** However loaded the machine, an answer on loopback takes far less; a hang takes forever. */
/**
 * Every case ends within this (answers, or the connection closed), and what it left is let go of
 * within it too. Generous: the unit suite must pass on a 2-core machine with the other core busy,
 * where 5 s was once not enough for a settled count to be read; a leak still fails it.
 */
export const BOUND_MS = 15_000;
/** How long an incomplete case waits for an answer before it half-closes (the server may rightly wait for the rest). */
const PATIENCE_MS = 100;
const HEAP_GROWTH_BOUND = 16 * 2 ** 20;

v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;

export function heapAfterGc(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

function seed(): { seed?: number } {
  const replay = process.env.EBB_FUZZ_SEED;
  return replay === undefined ? {} : { seed: Number(replay) };
}

const text = (response: RawResponse) => response.body.toString('utf8');

function send(surface: Surface, fuzz: FuzzCase): Promise<Exchange | undefined> {
  const writes = writesOf(fuzz);
  if (fuzz.delivery === 'cut-off') return cutOff(surface.endpoint, writes[0] ?? Buffer.alloc(0)).then(() => undefined);
  return exchange(surface.endpoint, {
    writes,
    pauseMs: fuzz.delivery === 'trickle' ? 20 : fuzz.delivery === 'split' ? 1 : 0,
    halfCloseAfterMs: fuzz.delivery === 'half-close' ? 0 : fuzz.complete ? undefined : PATIENCE_MS,
    answers: fuzz.requests.length,
    methods: fuzz.methods,
    boundMs: BOUND_MS,
  });
}

/** A request this small arrives in one read: the server has it all before it answers and closes. */
const ONE_READ = 16 * 1024;

/**
 * A case owes at least one answer when it is one whole request, sent at once and small: a server
 * may close without a word only on a connection it cannot answer on (an answer still pending
 * before it, or a client that said it is gone). A client still sending when the server answered
 * early and closed may see the connection reset instead of the answer (Node has no lingering
 * close), so a larger or trickled case owes none.
 */
const owesAnswer = (fuzz: FuzzCase) =>
  fuzz.complete && fuzz.framed && fuzz.requests.length === 1 && fuzz.delivery === 'whole' && fuzz.requests[0]!.length <= ONE_READ;

/** What every answer to bad input must be. */
function checkAnswers(surface: Surface, outcome: Exchange, fuzz: FuzzCase): void {
  if (owesAnswer(fuzz)) expect(outcome.responses.length, `${surface.name} closed the connection (${outcome.ended}) without an answer`).to.be.at.least(1);
  for (const [index, response] of outcome.responses.entries()) {
    const what = `${surface.name} answered ${response.status} ${JSON.stringify(text(response).slice(0, 200))}`;
    // An answer to HEAD has no body to say it in.
    const head = fuzz.methods[index] === 'HEAD';
    if (response.status >= 500) expect(surface.acceptable5xx?.(response, head) ?? false, `${what}: a server error for a client's input`).to.equal(true);
    if (response.status >= 400 && !head) expect(text(response).trim(), `${what}: no message`).not.to.equal('');
  }
  // Anything after the last whole answer may be an answer cut short, never bytes that are none.
  if (outcome.ended === 'closed' && outcome.unparsed.length > 0) {
    expect(outcome.unparsed.subarray(0, 7).toString('latin1'), `${surface.name} sent bytes that are no answer`).to.equal('HTTP/1.');
  }
}

/** The surface answers its valid request with 2xx. */
export async function expectServing(surface: Surface): Promise<void> {
  const { responses } = await exchange(surface.endpoint, { writes: [render(surface.valid)], answers: 1, methods: [surface.valid.method], boundMs: BOUND_MS });
  const [response] = responses;
  expect(response?.status, `${surface.name} no longer serves a valid request: ${response ? text(response) : 'no answer'}`).to.be.within(200, 299);
}

/** `numRuns` generated cases against the surface; then its heap must be back within the bound. */
export async function fuzzSurface(surface: Surface, numRuns: number): Promise<void> {
  await expectServing(surface);
  const before = heapAfterGc();
  await fc.assert(
    fc.asyncProperty(fc.limitShrink(fuzzCase(surface), 20), async (fuzz) => {
      const outcome = await send(surface, fuzz);
      if (outcome) checkAnswers(surface, outcome, fuzz);
      await expectServing(surface);
      await surface.settled?.();
    }),
    // verbose: the report lists every failing case, the first one too. When a case leaves something
    // behind (a request counted in flight for good), each shrunk case fails on that leftover, and
    // the shrunk counterexample is not what caused it; the first failing case is.
    { numRuns, verbose: 1, ...seed() },
  );
  const growth = heapAfterGc() - before;
  expect(growth, `${surface.name}: heap grew ${(growth / 2 ** 20).toFixed(1)} MiB over ${numRuns} cases`).to.be.below(HEAP_GROWTH_BOUND);
}

export interface AppBehindHop {
  server: http.Server;
  port: number;
  /** Requests that reached the app without coming through the hop: their X-Forwarded-For does not end with the client. */
  smuggled: string[];
}

/**
 * The app behind a forwarding hop: answers 200 once a request's body has arrived, unless `park`
 * takes the response. Made like ebb's own servers, so that what it refuses itself (a head grown
 * past 16 KiB by the forwarding headers) says why, as the hop's answers must.
 */
export async function startAppBehindHop(park: (res: http.ServerResponse) => boolean = () => false): Promise<AppBehindHop> {
  const smuggled: string[] = [];
  const server = createHttpServer({}, (req, res) => {
    if (!/(^|, )127\.0\.0\.1$/.test(String(req.headers['x-forwarded-for']))) smuggled.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => {
      if (park(res)) return;
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(`ok ${req.method} ${req.url?.length}`);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, smuggled };
}

/** One connection that pipelines about 1 MiB of the same request (the hop servers hold MAX_PIPELINED of them). */
export interface PipelinedFlood {
  /** Waits, within BOUND_MS, for the server to close the connection; then what it answered there, in order. */
  answersOnceClosed(): Promise<RawResponse[]>;
}

export function floodPipelined(port: number, request: string): PipelinedFlood {
  const socket = net.connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  const closed = once(socket, 'close');
  socket.write(request.repeat(Math.floor(2 ** 20 / request.length)));
  return {
    async answersOnceClosed() {
      await Promise.race([
        closed,
        new Promise((_, reject) => setTimeout(() => reject(new Error(`the flooding connection still open after ${BOUND_MS} ms`)), BOUND_MS)),
      ]);
      return parseResponses(Buffer.concat(received), [], true).responses;
    },
  };
}

/** The first `maxPipelined` requests of a flood answered 200, the next one refused 429 with why. */
export function expectPipelineLimit(answers: readonly RawResponse[], maxPipelined: number): void {
  expect(answers.slice(0, maxPipelined).map((r) => r.status)).to.deep.equal(Array(maxPipelined).fill(200));
  expect(answers[maxPipelined]?.status).to.equal(429);
  expect(answers[maxPipelined]?.body.toString()).to.include(`at most ${maxPipelined} may wait`);
}
