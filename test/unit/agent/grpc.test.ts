// gRPC through the interceptor and the activator with @grpc/grpc-js (the reference gRPC
// implementation for Node), client and server real, on loopback. The service is defined without
// protobuf code generation: JSON messages, serialized by the test's own functions.

import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { DEFAULT_HOLD_LIMITS } from '../../../src/core/activity/hold-ledger.ts';
import { targetKey } from '../../../src/core/activity/route.ts';
import { Activator } from '../../../agent/node/activator/activator.ts';
import { ActivatorListeners } from '../../../agent/node/activator/listeners.ts';
import type { RunningInterceptor } from '../../../agent/interceptor/server.ts';
import { until } from '../../fixtures/wait.ts';
import { HandBackends, target } from './activator-support.ts';
import { settle, startTestInterceptor } from './interceptor-support.ts';
import { ManualClock } from './manual-clock.ts';

interface Numbers {
  n: number;
}

const json = {
  serialize: (value: unknown) => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer) => JSON.parse(bytes.toString()) as Numbers,
};

const method = (name: string, requestStream: boolean, responseStream: boolean) => ({
  path: `/ebb.test.Numbers/${name}`,
  requestStream,
  responseStream,
  requestSerialize: json.serialize,
  requestDeserialize: json.deserialize,
  responseSerialize: json.serialize,
  responseDeserialize: json.deserialize,
});

/** Double (unary), CountTo (server streaming), Sum (client streaming), DoubleEach (bidirectional). */
const NUMBERS: grpc.ServiceDefinition = {
  Double: method('Double', false, false),
  CountTo: method('CountTo', false, true),
  Sum: method('Sum', true, false),
  DoubleEach: method('DoubleEach', true, true),
};

interface NumbersClient extends grpc.Client {
  Double(request: Numbers, callback: (error: grpc.ServiceError | null, reply?: Numbers) => void): grpc.ClientUnaryCall;
  CountTo(request: Numbers): grpc.ClientReadableStream<Numbers>;
  Sum(callback: (error: grpc.ServiceError | null, reply?: Numbers) => void): grpc.ClientWritableStream<Numbers>;
  DoubleEach(): grpc.ClientDuplexStream<Numbers, Numbers>;
}

const NumbersClient = grpc.makeGenericClientConstructor(NUMBERS, 'Numbers') as unknown as new (
  address: string,
  credentials: grpc.ChannelCredentials,
) => NumbersClient;

/** Streams of CountTo wait for `release` before their last message when asked with n < 0. */
interface NumbersServer {
  server: grpc.Server;
  port: number;
  /** Server streams paused before they end; call to let them finish. */
  paused: (() => void)[];
}

async function startNumbers(): Promise<NumbersServer> {
  const server = new grpc.Server();
  const paused: (() => void)[] = [];
  server.addService(NUMBERS, {
    Double: (call: grpc.ServerUnaryCall<Numbers, Numbers>, callback: grpc.sendUnaryData<Numbers>) => {
      if (call.request.n === 13) return callback({ code: grpc.status.NOT_FOUND, details: 'no thirteen here' });
      callback(null, { n: call.request.n * 2 });
    },
    CountTo: (call: grpc.ServerWritableStream<Numbers, Numbers>) => {
      const to = Math.abs(call.request.n);
      for (let i = 1; i < to; i += 1) call.write({ n: i });
      const finish = () => {
        call.write({ n: to });
        call.end();
      };
      if (call.request.n < 0) paused.push(finish);
      else finish();
    },
    Sum: (call: grpc.ServerReadableStream<Numbers, Numbers>, callback: grpc.sendUnaryData<Numbers>) => {
      let sum = 0;
      call.on('data', (message: Numbers) => (sum += message.n));
      call.on('end', () => callback(null, { n: sum }));
    },
    DoubleEach: (call: grpc.ServerDuplexStream<Numbers, Numbers>) => {
      call.on('data', (message: Numbers) => call.write({ n: message.n * 2 }));
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return { server, port, paused };
}

const stopNumbers = (numbers: NumbersServer | undefined) => numbers?.server.forceShutdown();

const double = (client: NumbersClient, n: number) =>
  new Promise<Numbers>((resolve, reject) => client.Double({ n }, (error, reply) => (error ? reject(error) : resolve(reply!))));

function countTo(client: NumbersClient, n: number): { messages: number[]; done: Promise<number[]> } {
  const messages: number[] = [];
  const call = client.CountTo({ n });
  const done = new Promise<number[]>((resolve, reject) => {
    call.on('data', (message: Numbers) => messages.push(message.n));
    call.on('error', reject);
    call.on('end', () => resolve(messages));
  });
  return { messages, done };
}

describe('gRPC through the interceptor', () => {
  let numbers: NumbersServer;
  let interceptor: RunningInterceptor;
  let client: NumbersClient;

  beforeEach(async () => {
    numbers = await startNumbers();
    interceptor = await startTestInterceptor(numbers.port);
    client = new NumbersClient(`127.0.0.1:${interceptor.listenPort}`, grpc.credentials.createInsecure());
  });

  afterEach(async () => {
    client.close();
    stopNumbers(numbers);
    await interceptor.drain();
  });

  it('relays a unary call, and an error status in its trailers', async () => {
    expect(await double(client, 21)).to.deep.equal({ n: 42 });
    const error = await double(client, 13).then(
      () => undefined,
      (failure: grpc.ServiceError) => failure,
    );
    expect(error?.code).to.equal(grpc.status.NOT_FOUND);
    expect(error?.details).to.equal('no thirteen here');
    await settle(interceptor, 0);
    expect(interceptor.activity.stats(true, false).requests).to.equal(2);
  });

  it('relays a server stream, counted in flight while it is open', async () => {
    const stream = countTo(client, -5);
    await until('the first four messages', () => stream.messages.length === 4);
    await until('the server paused before its last message', () => numbers.paused.length === 1);
    expect(interceptor.activity.inFlight(), 'the open stream').to.equal(1);
    numbers.paused[0]!();
    expect(await stream.done).to.deep.equal([1, 2, 3, 4, 5]);
    await settle(interceptor, 0);
  });

  it('relays a client stream', async () => {
    const sum = new Promise<Numbers>((resolve, reject) => {
      const call = client.Sum((error, reply) => (error ? reject(error) : resolve(reply!)));
      for (const n of [1, 2, 3, 4]) call.write({ n });
      call.end();
    });
    expect(await sum).to.deep.equal({ n: 10 });
    await settle(interceptor, 0);
    expect(interceptor.activity.stats(true, false).requests).to.equal(1);
  });

  it('relays a bidirectional stream, each answer before the next message is sent', async () => {
    const call = client.DoubleEach();
    const answers: number[] = [];
    call.on('data', (message: Numbers) => answers.push(message.n));
    const ended = new Promise((resolve, reject) => {
      call.on('end', resolve);
      call.on('error', reject);
    });
    for (const n of [1, 2, 3]) {
      call.write({ n });
      await until(`the answer to ${n}`, () => answers.length === n);
    }
    expect(interceptor.activity.inFlight(), 'the open call').to.equal(1);
    call.end();
    await ended;
    expect(answers).to.deep.equal([2, 4, 6]);
    await settle(interceptor, 0);
  });

  it('counts concurrent calls on the client’s one connection each in flight', async () => {
    const streams = [countTo(client, -3), countTo(client, -3), countTo(client, -3)];
    await until('three streams paused', () => numbers.paused.length === 3);
    await settle(interceptor, 3);
    for (const finish of numbers.paused) finish();
    expect(await Promise.all(streams.map((s) => s.done))).to.deep.equal([
      [1, 2, 3],
      [1, 2, 3],
      [1, 2, 3],
    ]);
    await settle(interceptor, 0);
  });
});

describe('gRPC through the activator while the workload sleeps', () => {
  const a = target('shop/numbers', 'grpc');
  let numbers: NumbersServer | undefined;
  let interceptor: RunningInterceptor | undefined;
  let activator: Activator;
  let listeners: ActivatorListeners;
  let client: NumbersClient;

  afterEach(async () => {
    client.close();
    listeners.stopAccepting();
    activator.close();
    stopNumbers(numbers);
    await interceptor?.drain();
  });

  it('holds the first call, wakes the workload, and the call succeeds through the pod’s interceptor', async () => {
    const backends = new HandBackends();
    const wakes: string[] = [];
    activator = new Activator({
      directory: backends,
      // The controller's part: the pod starts (its gRPC server behind its interceptor) and is ready.
      wake: async (request) => {
        wakes.push(request.workload);
        numbers = await startNumbers();
        interceptor = await startTestInterceptor(numbers.port);
        backends.markReady(a, { host: '127.0.0.1', port: interceptor.listenPort });
        return { accepted: true };
      },
      node: 'node-1',
      limits: DEFAULT_HOLD_LIMITS,
      clock: new ManualClock(),
      log: () => undefined,
    });
    listeners = new ActivatorListeners(activator, '127.0.0.1', () => undefined);
    await listeners.apply([{ port: 0, target: a }]);
    const port = listeners.listening().find((l) => targetKey(l.target) === targetKey(a))!.port;
    client = new NumbersClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());

    expect(await double(client, 4)).to.deep.equal({ n: 8 });
    expect(wakes).to.deep.equal(['shop/numbers']);
    await until('the call counted at the pod', () => interceptor?.activity.stats(true, false).requests === 1);
    expect(activator.heldByWorkload().get('shop/numbers') ?? 0).to.equal(0);
  });
});
