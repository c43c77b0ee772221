// Where the local sandbox (`npm start`) serves a Service: it plays kube-proxy on one loopback port
// per Service port and records them on the Service in the annotation below, so that `kubectl ebb
// status` shows them with nothing but the API server to read. The annotation is the sandbox's, not
// a setting: nothing of ebb reads it, and its prefix keeps it apart from the `ebb.dev/` keys. In a
// real cluster no Service has it and status shows no local URL. Pure: the CLI and the sandbox read
// and write the objects.

import type { V1Service } from '@kubernetes/client-node';
import { servicesSelecting } from '../traffic-visibility.ts';

/** On a Service: `SERVICEPORT=URL` for each of its ports, space-separated, e.g. `80=http://127.0.0.1:41001/`. */
export const LOCAL_URL_ANNOTATION = 'sandbox.ebb.dev/local-url';

/** One Service port and where the sandbox serves it. */
export interface LocalUrl {
  service: string;
  port: number;
  url: string;
}

export function formatLocalUrls(urls: readonly { port: number; url: string }[]): string {
  return [...urls]
    .sort((a, b) => a.port - b.port)
    .map(({ port, url }) => `${port}=${url}`)
    .join(' ');
}

/** The annotation's entries; what does not read as PORT=URL is left out. */
export function parseLocalUrls(service: string, text: string | undefined): LocalUrl[] {
  return (text ?? '').split(/\s+/).flatMap((entry) => {
    const match = /^(\d{1,5})=(\S+)$/.exec(entry);
    return match ? [{ service, port: Number(match[1]), url: match[2]! }] : [];
  });
}

/** The local URLs of the Services (of the workload's namespace) that select the workload's pods. */
export function localUrlsOf(services: readonly V1Service[], podLabels: Readonly<Record<string, string>> | undefined): LocalUrl[] {
  return servicesSelecting(services, podLabels)
    .flatMap((service) => parseLocalUrls(service.metadata?.name ?? '', service.metadata?.annotations?.[LOCAL_URL_ANNOTATION]))
    .sort((a, b) => a.service.localeCompare(b.service) || a.port - b.port);
}
