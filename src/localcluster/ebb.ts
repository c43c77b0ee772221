// ebb's own programs, run as local processes against a local control plane (the sandbox): the
// webhook (registered with the API server over TLS), one agent per KWOK node, and the controller.
// Each gets what it would get in a cluster: a kubeconfig, a projected-style service-account
// token for ebb's audience, certificates.

import { writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdmissionregistrationV1Api, CoreV1Api, type V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { createWebhookCertificates, writeWebhookCertificates } from '../../certs/webhook-certificates.ts';
import { DEFAULT_EBB_NAMESPACE, SYSTEM_NAMESPACES } from '../core/opt-in.ts';
import { EBB_AUDIENCE } from '../protocol/auth.ts';
import type { ControlPlane } from './control-plane.ts';
import { freePort } from './ports.ts';
import { startProcess, type ManagedProcess } from './processes.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const WEBHOOK_CONFIGURATION_NAME = 'ebb';
/** The namespaces the API server never sends to the webhook (the manifests exclude the same). */
export const EXCLUDED_NAMESPACES = [...SYSTEM_NAMESPACES, DEFAULT_EBB_NAMESPACE];

export interface AgentPorts {
  node: string;
  activityPort: number;
  /** The agent's activator listens here, one port per sleeping Service port (from its slice). */
  activatorHost: string;
}

export interface RunningEbb {
  webhookPort: number;
  controllerPort: number;
  agents: AgentPorts[];
  /** The controller's token, for reading the agents' activity. */
  controllerTokenFile: string;
  processes: ManagedProcess[];
  stop(): Promise<void>;
}

/** The registration that makes the API server call a webhook on loopback, trusting `caPem`. */
export function localWebhookConfiguration(port: number, caPem: string, name = WEBHOOK_CONFIGURATION_NAME): V1MutatingWebhookConfiguration {
  return {
    metadata: { name },
    webhooks: [
      {
        name: 'pods.webhook.ebb.dev',
        admissionReviewVersions: ['v1'],
        clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle: Buffer.from(caPem).toString('base64') },
        rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }],
        failurePolicy: 'Ignore',
        sideEffects: 'None',
        timeoutSeconds: 5,
        matchPolicy: 'Equivalent',
        reinvocationPolicy: 'IfNeeded',
        namespaceSelector: {
          matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: EXCLUDED_NAMESPACES }],
        },
      },
    ],
  };
}

/**
 * The programs' service accounts and their tokens, in files as the kubelet projects them: the agent's
 * and the controller's for each other (audience ebb.dev), and the agent's for its kubelet (KWOK), as
 * the automounted one: the API server's audience.
 */
async function issueTokens(core: CoreV1Api, workDir: string): Promise<{ agentToken: string; controllerToken: string; kubeletToken: string }> {
  const tokenFile = async (account: string, audiences: string[], file: string) => {
    const issued = await core.createNamespacedServiceAccountToken({
      name: account,
      namespace: DEFAULT_EBB_NAMESPACE,
      body: { spec: { audiences, expirationSeconds: 86_400 } },
    });
    const path = join(workDir, file);
    writeFileSync(path, issued.status?.token ?? '', { mode: 0o600 });
    return path;
  };
  for (const account of ['ebb-agent', 'ebb-controller']) {
    await core.createNamespacedServiceAccount({ namespace: DEFAULT_EBB_NAMESPACE, body: { metadata: { name: account } } });
  }
  return {
    agentToken: await tokenFile('ebb-agent', [EBB_AUDIENCE], 'ebb-agent.token'),
    controllerToken: await tokenFile('ebb-controller', [EBB_AUDIENCE], 'ebb-controller.token'),
    kubeletToken: await tokenFile('ebb-agent', [], 'ebb-agent-kubelet.token'),
  };
}

export async function startEbb(controlPlane: ControlPlane): Promise<RunningEbb> {
  const { kubeConfig, kubeconfigPath, workDir } = controlPlane;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const processes: ManagedProcess[] = [];
  const stop = async () => {
    for (const child of [...processes].reverse()) await child.stop();
  };
  try {
    await core.createNamespace({ body: { metadata: { name: DEFAULT_EBB_NAMESPACE } } });
    const { agentToken, controllerToken, kubeletToken } = await issueTokens(core, workDir);
    const node = (name: string, entry: string, args: string[], env: Record<string, string>) =>
      startProcess(name, process.execPath, ['--import', 'tsx', join(REPO, entry), ...args], join(workDir, `${name}.log`), {
        KUBECONFIG: kubeconfigPath,
        POD_NAMESPACE: DEFAULT_EBB_NAMESPACE,
        ...env,
      });

    // The webhook, over TLS, registered with the API server.
    const certificates = createWebhookCertificates({ service: 'ebb-webhook', namespace: DEFAULT_EBB_NAMESPACE });
    const certDir = join(workDir, 'webhook-tls');
    await writeWebhookCertificates(certDir, certificates);
    const webhookPort = await freePort();
    processes.push(
      node(
        'ebb-webhook',
        'webhook/main.ts',
        ['--host', '127.0.0.1', '--port', String(webhookPort), '--tls-cert', join(certDir, 'tls.crt'), '--tls-key', join(certDir, 'tls.key')],
        {},
      ),
    );
    await waitUntil('the webhook ready', () => httpsReady(webhookPort, certificates.ca.certPem));
    await kubeConfig
      .makeApiClient(AdmissionregistrationV1Api)
      .createMutatingWebhookConfiguration({ body: localWebhookConfiguration(webhookPort, certificates.ca.certPem) });

    // One agent per node, then the controller that reads them.
    const controllerPort = await freePort();
    const agents: AgentPorts[] = [];
    for (const [index, nodeName] of controlPlane.nodeNames.entries()) {
      // The agents share this machine but not the sleeping Services' ports: each has a loopback
      // address of its own, varied by process so that two sandboxes do not collide.
      const ports = { node: nodeName, activityPort: await freePort(), activatorHost: `127.20.${process.pid % 250}.${index + 1}` };
      agents.push(ports);
      processes.push(
        node(`ebb-agent-${nodeName}`, 'agent/main.ts', [], {
          NODE_NAME: nodeName,
          EBB_LISTEN_HOST: '127.0.0.1',
          EBB_AGENT_PORT: String(ports.activityPort),
          EBB_ACTIVATOR_HOST: ports.activatorHost,
          EBB_CONTROLLER_URL: `http://127.0.0.1:${controllerPort}`,
          EBB_TOKEN_FILE: agentToken,
          EBB_KUBELET_TOKEN_FILE: kubeletToken,
          // KWOK's kubelet certificate is issued by the control plane's CA (control-plane.ts).
          EBB_KUBELET_CA_FILE: join(workDir, 'ca.crt'),
        }),
      );
    }
    processes.push(
      node('ebb-controller', 'src/controller/main.ts', [], {
        POD_NAME: 'ebb-controller-0',
        EBB_CONTROLLER_HOST: '127.0.0.1',
        EBB_CONTROLLER_PORT: String(controllerPort),
        EBB_TOKEN_FILE: controllerToken,
        EBB_AGENT_URLS: agents.map((agent) => `http://127.0.0.1:${agent.activityPort}`).join(','),
        // The API server refuses loopback addresses in EndpointSlices; the sandbox's Service
        // router (its kube-proxy) sends sleeping traffic to the agents' real loopback addresses,
        // at the port the slice gives the Service's port.
        EBB_ACTIVATOR_ADDRESSES: agents.map((_, index) => `192.0.2.${10 + index}`).join(','),
        EBB_WEBHOOK_CA_FILE: join(certDir, 'ca.crt'),
      }),
    );
    await waitUntil('the controller ready', () => httpReady(controllerPort, '/readyz'));
    for (const agent of agents) await waitUntil(`the agent on ${agent.node} ready`, () => httpReady(agent.activityPort, '/healthz'));
    return { webhookPort, controllerPort, agents, controllerTokenFile: controllerToken, processes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function httpsReady(port: number, caPem: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', ca: caPem, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function httpReady(port: number, path: string): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(1000) });
    return response.status === 200;
  } catch {
    return false;
  }
}
