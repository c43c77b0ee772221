// The controller program: reads its settings (config.ts), builds the controller (controller.ts)
// against the cluster it runs in, starts it, and stops it on SIGTERM.

import { AuthenticationV1Api } from '@kubernetes/client-node';
import { createLog, startupOrExit } from '../program/log.ts';
import { CachingTokenVerifier, TokenReviewVerifier } from '../protocol/auth.ts';
import { controllerConfig } from './config.ts';
import { buildController } from './controller.ts';
import { SharedAgentKubeConfig } from './kube-config.ts';

const log = createLog('controller');
const config = startupOrExit(log, () => controllerConfig(process.env));

const kubeConfig = new SharedAgentKubeConfig();
kubeConfig.loadFromDefault();
const verifier = new CachingTokenVerifier(new TokenReviewVerifier(kubeConfig.makeApiClient(AuthenticationV1Api)));
const controller = buildController(config, { kubeConfig, verifier, log });
await controller.start();

async function shutdown(signal: string) {
  log('info', `${signal}: stopping`);
  await controller.stop();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
