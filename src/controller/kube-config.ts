// The controller's KubeConfig: API calls share one agent and one TLS context.
// @kubernetes/client-node builds a new https.Agent for every call, so each call parses the CA,
// certificate and key into a new TLS context and makes a full handshake (measured with
// test/bench/controller.ts at 1,000 workloads: TLS context setup was the controller's largest CPU
// cost). Shared, the context is built once and the agent's TLS session cache resumes sessions.
// The agent keeps connections alive: a new TLS connection per call was still a quarter of the
// controller's busy time at 1,000 workloads (test/bench/controller.ts, CPU profile), with session
// resumption. node-fetch 2 (under the client) reports a chunked response as "Premature close" when
// its socket already serves another request as the response closes: Node hands a freed socket to
// a request waiting in the agent's queue at once, and a request made in the same turn can take it
// from the free list before the response's 'close'. So nothing queues (no socket limit; callers
// bound their own bursts, see status-writes.ts) and each request reaches the agent a turn later
// (setImmediate), after every pending 'close' has run. Watches are unaffected: they take their
// options another way.

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
      // The old agent is not destroyed: calls still on it finish, and its idle sockets close after IDLE_SOCKET_MS.
      const secureContext = tls.createSecureContext({ ca, cert, key, pfx, passphrase });
      this.shared = {
        identity,
        agent: new KeepAliveAgent({
          ...agent.options,
          secureContext,
          keepAlive: true,
          maxSockets: Infinity,
          maxFreeSockets: 16,
          scheduling: 'lifo',
          timeout: IDLE_SOCKET_MS,
        }),
      };
    }
    context.setAgent(this.shared.agent);
  }
}

/** A free connection is closed after this long unused: well before an API server or a load balancer drops it mid-request. */
const IDLE_SOCKET_MS = 30_000;

/** Adds each request to the pool a turn of the event loop later (see above). */
class KeepAliveAgent extends https.Agent {
  constructor(options: https.AgentOptions) {
    super(options);
    const addRequest = (this as unknown as PoolInternals).addRequest.bind(this);
    (this as unknown as PoolInternals).addRequest = (...args) => void setImmediate(() => addRequest(...args));
  }
}

/** Node's Agent method that gives a request a socket (free, new or queued); undocumented, stable since Node 0.x. */
interface PoolInternals {
  addRequest(...args: unknown[]): void;
}
