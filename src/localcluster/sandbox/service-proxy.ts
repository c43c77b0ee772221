// The sandbox's kube-proxy for one Service: there is none in a KWOK cluster, so this listens on one
// loopback port per Service port and sends each request where kube-proxy would send that port's
// traffic: while ebb's activator EndpointSlice exists for the Service, to an agent at the port the
// slice gives this Service port (by its name: each port of a sleeping Service has its own; the
// agents' addresses on the slice are placeholders, as the API server refuses loopback ones),
// otherwise to the Service's ready pods, round robin, at the pod port its targetPort resolves to
// (the interceptor, after the webhook's takeover of the port's name). Requests carry the Service's
// name as Host, as a client inside the cluster would send (the activator does not look at it).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { ServicePorts } from '../../core/activator-ports.ts';
import { podPortFor } from '../../core/service-target.ts';
import { servicesSelecting } from '../../core/traffic-visibility.ts';
import type { RunningPod } from './pod-runner.ts';

/** What the proxy routes by, kept by its owner from the cluster's watches. */
export interface ServiceBackends {
  /** The Service's activator ports while its slice exists. */
  activatorPorts(): ServicePorts | undefined;
  /**
   * The last ones seen: between the slice's removal and the pods' readiness showing here, the
   * agents still serve those ports (for a grace period) and forward to the pods, as they would for
   * the connections kube-proxy keeps sending there in a cluster.
   */
  lastActivatorPorts(): ServicePorts | undefined;
  /** The pods running here (every namespace). */
  pods(): Iterable<RunningPod>;
  /** The agents' real (loopback) addresses. */
  activatorHosts: readonly string[];
}

export interface Target {
  host: string;
  port: number;
  via: 'activator' | 'pod';
}

/** One Service port served on a loopback port. */
export interface LocalPort {
  servicePort: V1ServicePort;
  localPort: number;
  url: string;
}

interface Listener extends LocalPort {
  server: http.Server;
}

/** A Service port's identity: a changed name or number is another port. */
const portKey = (port: V1ServicePort) => `${port.name ?? ''}/${port.port}`;

export class ServiceProxy {
  private service: V1Service;
  private readonly listeners = new Map<string, Listener>();
  private next = 0;
  private readonly upstream = new http.Agent({ keepAlive: true, maxSockets: 64 });

  constructor(
    service: V1Service,
    private readonly backends: ServiceBackends,
  ) {
    this.service = service;
  }

  get namespace(): string {
    return this.service.metadata?.namespace ?? '';
  }

  get name(): string {
    return this.service.metadata?.name ?? '';
  }

  /** The local ports, in the Service's port order. */
  get ports(): LocalPort[] {
    return [...this.listeners.values()].map(({ servicePort, localPort, url }) => ({ servicePort, localPort, url }));
  }

  /** Follows the Service: a port for each of its ports; returns the ports opened and closed. */
  async sync(service: V1Service): Promise<{ opened: LocalPort[]; closed: LocalPort[] }> {
    this.service = service;
    const wanted = new Map((service.spec?.ports ?? []).map((port) => [portKey(port), port]));
    const closed = [...this.listeners].filter(([key]) => !wanted.has(key)).map(([, listener]) => listener);
    for (const listener of closed) this.listeners.delete(portKey(listener.servicePort));
    await Promise.all(closed.map((listener) => closeServer(listener.server)));
    const opened: LocalPort[] = [];
    for (const [key, servicePort] of wanted) {
      const listener = this.listeners.get(key);
      if (listener) listener.servicePort = servicePort;
      else opened.push(await this.open(key, servicePort));
    }
    return { opened, closed };
  }

  async close(): Promise<void> {
    const listeners = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(listeners.map((listener) => closeServer(listener.server)));
    this.upstream.destroy();
  }

  /** Where the next request for the Service port named `portName` goes; undefined: no endpoint. */
  target(portName: string): Target | undefined {
    const servicePort = (this.service.spec?.ports ?? []).find((port) => (port.name ?? '') === portName);
    if (!servicePort) return undefined;
    const index = this.next++;
    const pods = [...this.backends.pods()].filter(
      (pod) => pod.ready && pod.namespace === this.namespace && servicesSelecting([this.service], pod.labels).length > 0,
    );
    const activatorPort = this.backends.activatorPorts()?.get(portName) ?? (pods.length === 0 ? this.backends.lastActivatorPorts()?.get(portName) : undefined);
    const { activatorHosts } = this.backends;
    if (activatorPort !== undefined) return { host: activatorHosts[index % activatorHosts.length]!, port: activatorPort, via: 'activator' };
    const pod = pods[index % Math.max(pods.length, 1)];
    const podPort = pod && podPortFor(pod.pod, servicePort);
    return pod && podPort !== undefined ? { host: pod.ip, port: podPort, via: 'pod' } : undefined;
  }

  private async open(key: string, servicePort: V1ServicePort): Promise<LocalPort> {
    const server = http.createServer((req, res) => this.forward(servicePort.name ?? '', req, res));
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    const localPort = (server.address() as AddressInfo).port;
    const listener: Listener = { servicePort, localPort, url: `http://127.0.0.1:${localPort}/`, server };
    this.listeners.set(key, listener);
    return listener;
  }

  private forward(portName: string, req: http.IncomingMessage, res: http.ServerResponse) {
    const target = this.target(portName);
    if (!target) {
      // kube-proxy rejects a connection to a Service port with no endpoint at all.
      res.writeHead(503, { 'Content-Type': 'text/plain' }).end('sandbox kube-proxy: the Service has no endpoint\n');
      return;
    }
    const proxied = http.request(
      {
        host: target.host,
        port: target.port,
        method: req.method,
        path: req.url,
        agent: this.upstream,
        headers: { ...req.headers, host: `${this.name}.${this.namespace}` },
      },
      (upstream) => {
        res.writeHead(upstream.statusCode ?? 502, upstream.headers);
        upstream.pipe(res);
      },
    );
    proxied.on('error', (error) => {
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(`sandbox kube-proxy: ${error.message}\n`);
    });
    req.pipe(proxied);
  }
}

function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}
