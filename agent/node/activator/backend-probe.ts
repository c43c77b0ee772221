// Whether a backend can take held requests now. Like knative's activator, ebb does not release a
// burst of held requests on the API server's word alone: a pod's Ready condition is the kubelet's
// last probe, seconds old, and may already be wrong (the app restarted, the pod began draining).
// One cheap check right before release is answered by the process that will serve the requests.

import http from 'node:http';
import net from 'node:net';
import type { Backend } from './directory.ts';

const PROBE_TIMEOUT_MS = 500;

/** The backend accepts a TCP connection. */
export function acceptsConnections(backend: Backend, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(backend);
    const settle = (ready: boolean) => {
      socket.destroy();
      resolve(ready);
    };
    socket.setTimeout(timeoutMs, () => settle(false));
    socket.once('connect', () => settle(true));
    socket.once('error', () => settle(false));
  });
}

/** A readiness endpoint (the interceptor's /ready) answers 200. */
export function answersReady(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}
