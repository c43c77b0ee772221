// The controller's KubeConfig: API calls share one agent and one TLS context.
// @kubernetes/client-node builds a new https.Agent for every call, so each call parses the CA,
// certificate and key into a new TLS context and makes a full handshake (measured with
// test/bench/controller.ts at 1,000 workloads: TLS context setup was the controller's largest CPU
// cost). Shared, the context is built once and the agent's TLS session cache resumes sessions.
// The agent neither keeps connections alive nor queues: when a queued request is handed the socket
// of a finished response, node-fetch 2 (under the client) may report that response as
// "Premature close" (the bench saw it at every burst of writes). Bursts are bounded by the callers
// instead (see the status writes in main.ts). Watches are unaffected: they take their options
// another way.

import https from 'node:https';
import tls from 'node:tls';
import { KubeConfig } from '@kubernetes/client-node';

type RequestContext = Parameters<KubeConfig['applySecurityAuthentication']>[0];

export class SharedAgentKubeConfig extends KubeConfig {
  /** One agent per TLS identity: a rotated client certificate or CA gets a new agent. */
  private shared: { identity: string; agent: https.Agent } | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const agent = context.getAgent();
    // A proxy agent (or plain HTTP) is left as the client made it.
    if (agent?.constructor !== https.Agent) return;
    const { ca, cert, key, pfx, passphrase } = agent.options;
    const identity = [ca, cert, key, pfx, passphrase].map(String).join('\0');
    if (this.shared?.identity !== identity) {
      this.shared?.agent.destroy();
      const secureContext = tls.createSecureContext({ ca, cert, key, pfx, passphrase });
      this.shared = { identity, agent: new https.Agent({ ...agent.options, secureContext }) };
    }
    context.setAgent(this.shared.agent);
  }
}
