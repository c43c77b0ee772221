// The interceptor sidecar: a counting reverse proxy in front of the app (see server.ts).
// SIGTERM drains: in-flight requests finish, then the process exits 0.

import { createLog, startupOrExit } from '../../src/program/log.ts';
import { interceptorConfigFromEnv } from './config.ts';
import { startInterceptor } from './server.ts';

const log = createLog('interceptor');
const config = startupOrExit(log, () => interceptorConfigFromEnv(process.env));
const interceptor = await startInterceptor(config);
log('info', 'interceptor listening', {
  workload: config.workload,
  listen: `${config.listenHost}:${interceptor.listenPort}`,
  app: `${config.appHost}:${config.appPort}`,
  admin: interceptor.adminPort,
});

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  log('info', 'draining', { signal, inFlight: interceptor.activity.inFlight(), drainMs: config.drainMs });
  interceptor.drain().then(
    () => process.exit(0),
    (error: unknown) => {
      log('error', 'drain failed', { error: String(error) });
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
