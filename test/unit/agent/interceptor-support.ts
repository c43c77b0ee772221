// What the interceptor's in-process tests share: one started in front of an app on loopback, and a
// bounded wait for its in-flight figure.

import { expect } from 'chai';
import type { ClientTimeouts } from '../../../agent/http/hop-server.ts';
import { startInterceptor, type RunningInterceptor } from '../../../agent/interceptor/server.ts';
import { until } from '../../fixtures/wait.ts';

/** An interceptor for workload shop/app on 127.0.0.1 that ignores /healthz, kube-probe/ and monitor/. */
export function startTestInterceptor(appPort: number, clientTimeouts?: ClientTimeouts): Promise<RunningInterceptor> {
  return startInterceptor({
    listenHost: '127.0.0.1',
    listenPort: 0,
    appHost: '127.0.0.1',
    appPort,
    adminPort: 0,
    workload: 'shop/app',
    ignorePaths: new Set(['/healthz']),
    ignoreUserAgents: ['kube-probe/', 'monitor/'],
    drainMs: 1_000,
    ...(clientTimeouts ? { clientTimeouts } : {}),
  });
}

/** Waits (up to 10 s of wall time, however loaded the machine) until the interceptor counts `inFlight`. */
export async function settle(interceptor: RunningInterceptor, inFlight: number): Promise<void> {
  await until(`${inFlight} counted in flight`, () => interceptor.activity.inFlight() === inFlight, 10_000, 5).catch((error: unknown) =>
    expect.fail(`${String(error)}; counted ${interceptor.activity.inFlight()}`),
  );
}
