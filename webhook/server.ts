// The HTTPS server around the app, and certificate rotation without a restart: the key and
// certificate files are polled (a mounted Secret changes by swapping a symlink, which fs.watch
// misses) and a changed pair is installed with setSecureContext. A half-written pair (the key
// already new, the certificate not yet) fails to load and is simply tried again on the next change.
//
// The files may not exist yet: the controller creates the Secret after the webhook's pods have
// started (the volume is optional). Until they appear the server presents a throwaway self-signed
// certificate, so the kubelet's probes (which do not verify it) find the process alive while
// hasCertificate() keeps /readyz false; the API server, which does verify, fails open meanwhile.
import { existsSync, readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { RequestListener } from 'node:http';
import { createCertificateAuthority, days } from '../certs/pki.ts';
import { createHttpsServer } from '../src/http/server.ts';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface CertificateWatchOptions {
  /** How often the files are checked; default 2 s. */
  intervalMs?: number;
  onReload?: () => void;
  onError?: (error: unknown) => void;
}

function readPair(files: TlsFiles): { cert: Buffer; key: Buffer } {
  return { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
}

/** A self-signed pair to serve until the real one exists; no client trusts it. */
function placeholderPair(): { cert: string; key: string } {
  const pair = createCertificateAuthority('ebb webhook: no serving certificate yet', days(1));
  return { cert: pair.certPem, key: pair.keyPem };
}

/** Installs the files' new pair whenever either changes; returns the function that stops watching. */
export function watchCertificates(server: Server, files: TlsFiles, options: CertificateWatchOptions = {}): () => void {
  const onChange = (current: Stats, previous: Stats) => {
    if (current.mtimeMs === previous.mtimeMs && current.ino === previous.ino && current.size === previous.size) return;
    try {
      server.setSecureContext(readPair(files));
      options.onReload?.();
    } catch (error) {
      options.onError?.(error);
    }
  };
  const interval = options.intervalMs ?? 2_000;
  for (const file of [files.certFile, files.keyFile]) watchFile(file, { interval, persistent: false }, onChange);
  return () => {
    for (const file of [files.certFile, files.keyFile]) unwatchFile(file, onChange);
  };
}

export interface RunningServer {
  server: Server;
  port: number;
  /** Whether it serves the files' pair (false while the placeholder stands in). */
  hasCertificate(): boolean;
  close(): Promise<void>;
}

/** Serves `app` over HTTPS on host:port (port 0 = any free port) with certificate rotation. */
export async function startHttpsServer(
  app: RequestListener,
  options: { host: string; port: number; tls: TlsFiles } & CertificateWatchOptions,
): Promise<RunningServer> {
  let fromFiles = existsSync(options.tls.certFile) && existsSync(options.tls.keyFile);
  const server = createHttpsServer({ ...(fromFiles ? readPair(options.tls) : placeholderPair()), minVersion: 'TLSv1.2' }, app);
  // The API server keeps connections to webhooks alive; idle ones should outlive its reuse window.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const onReload = () => {
    fromFiles = true;
    options.onReload?.();
  };
  const stopWatching = watchCertificates(server, options.tls, { ...options, onReload });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    hasCertificate: () => fromFiles,
    close: () => {
      stopWatching();
      server.closeIdleConnections();
      return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
