// The sandbox's kube-proxy for one Service: there is none in a KWOK cluster, so this listens on a
// loopback port and sends each request where kube-proxy would: to the agents' activator while
// ebb's activator EndpointSlice exists for the Service (with the Service's name as Host, as a
// client inside the cluster would send), otherwise to the pods' interceptors, round robin.

import http from 'node:http';
import { DiscoveryV1Api, type KubeConfig } from '@kubernetes/client-node';
import { activatorSliceName } from '../../core/activator-slice.ts';
import type { PodRunner } from './pod-runner.ts';

export class ServiceRouter {
  private asleep = false;
  private next = 0;
  private readonly server: http.Server;
  private readonly timer: NodeJS.Timeout;
  private readonly upstream = new http.Agent({ keepAlive: true, maxSockets: 64 });

  constructor(
    kubeConfig: KubeConfig,
    private readonly namespace: string,
    private readonly service: string,
    private readonly pods: PodRunner,
    private readonly activatorPorts: readonly number[],
  ) {
    const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    const check = () =>
      discovery.readNamespacedEndpointSlice({ name: activatorSliceName(service), namespace }).then(
        () => (this.asleep = true),
        () => (this.asleep = false),
      );
    this.timer = setInterval(() => void check(), 250);
    void check();
    this.server = http.createServer((req, res) => this.forward(req, res));
  }

  get routesToActivator(): boolean {
    return this.asleep;
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
    const pods = [...this.pods.pods.values()].filter((pod) => pod.ready);
    const index = this.next++;
    const target =
      this.asleep || pods.length === 0
        ? { host: '127.0.0.1', port: this.activatorPorts[index % this.activatorPorts.length]! }
        : { host: pods[index % pods.length]!.ip, port: pods[index % pods.length]!.listenPort };
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
