// The sandbox's kube-proxy for one Service: there is none in a KWOK cluster, so this listens on a
// loopback port and sends each request where kube-proxy would: while ebb's activator EndpointSlice
// exists for the Service, to an agent at the port that slice gives the Service's port (the agents'
// addresses on the slice are placeholders: the API server refuses loopback ones), otherwise to the
// pods' interceptors, round robin. Requests carry the Service's name as Host, as a client inside
// the cluster would send (the activator does not look at it).

import http from 'node:http';
import { DiscoveryV1Api, type KubeConfig } from '@kubernetes/client-node';
import { activatorSliceName } from '../../core/activator-slice.ts';
import type { PodRunner, RunningPod } from './pod-runner.ts';

export class ServiceRouter {
  /** The activator port of the Service's (only) port while its slice exists. */
  private activatorPort: number | undefined;
  /**
   * The last one seen: between the slice's removal and the pods' readiness showing here, the
   * agents still serve that port (for a grace period) and forward to the pods, as they would for
   * the connections kube-proxy keeps sending there in a cluster.
   */
  private lastActivatorPort: number | undefined;
  private next = 0;
  private readonly server: http.Server;
  private readonly timer: NodeJS.Timeout;
  private readonly upstream = new http.Agent({ keepAlive: true, maxSockets: 64 });

  constructor(
    kubeConfig: KubeConfig,
    private readonly namespace: string,
    private readonly service: string,
    /** The Service's selector: the namespace's other pods are not its endpoints. */
    private readonly selector: Readonly<Record<string, string>>,
    private readonly pods: PodRunner,
    private readonly activatorHosts: readonly string[],
  ) {
    const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    const check = () =>
      discovery.readNamespacedEndpointSlice({ name: activatorSliceName(service), namespace }).then(
        (slice) => (this.activatorPort = this.lastActivatorPort = slice.ports?.[0]?.port ?? undefined),
        () => (this.activatorPort = undefined),
      );
    this.timer = setInterval(() => void check(), 250);
    void check();
    this.server = http.createServer((req, res) => this.forward(req, res));
  }

  get routesToActivator(): boolean {
    return this.activatorPort !== undefined;
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve) => this.server.listen(port, '127.0.0.1', resolve));
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
    this.upstream.destroy();
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse) {
    const selected = (pod: RunningPod) => Object.entries(this.selector).every(([key, value]) => pod.labels[key] === value);
    const pods = [...this.pods.pods.values()].filter((pod) => pod.ready && selected(pod));
    const index = this.next++;
    const activatorPort = this.activatorPort ?? (pods.length === 0 ? this.lastActivatorPort : undefined);
    const target =
      activatorPort !== undefined
        ? { host: this.activatorHosts[index % this.activatorHosts.length]!, port: activatorPort }
        : pods.length > 0
          ? { host: pods[index % pods.length]!.ip, port: pods[index % pods.length]!.listenPort }
          : undefined;
    if (!target) {
      // kube-proxy rejects a connection to a Service with no endpoint at all.
      res.writeHead(503, { 'Content-Type': 'text/plain' }).end('sandbox service router: the Service has no endpoint\n');
      return;
    }
    const proxied = http.request(
      { ...target, method: req.method, path: req.url, agent: this.upstream, headers: { ...req.headers, host: `${this.service}.${this.namespace}` } },
      (upstream) => {
        res.writeHead(upstream.statusCode ?? 502, upstream.headers);
        upstream.pipe(res);
      },
    );
    proxied.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`sandbox service router: ${error.message}\n`);
    });
    req.pipe(proxied);
  }
}
