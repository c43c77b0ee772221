// The webhook's certificates: a CA (its certificate becomes the MutatingWebhookConfiguration's
// caBundle) and a serving certificate for the webhook Service, also valid on 127.0.0.1 so that the
// API server of a local control plane can call a webhook on loopback. Signing is the shared PKI's.
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCertificateAuthority, days, issueCertificate, type KeyPair, type Lifetime } from './pki.ts';

export interface WebhookCertificateOptions {
  service: string;
  namespace: string;
  /** Validity of the serving certificate; the CA lives ten times as long. Default 365. */
  validDays?: number;
  /** IP SANs; default 127.0.0.1. */
  ipAddresses?: readonly string[];
}

export interface WebhookCertificates {
  ca: KeyPair;
  serving: KeyPair;
}

/** The names the API server uses for a Service: `<svc>.<ns>.svc` and its cluster.local form. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

export function createWebhookCertificates(options: WebhookCertificateOptions): WebhookCertificates {
  const validDays = options.validDays ?? 365;
  const ca = createWebhookCa(options.namespace, days(validDays * 10));
  const serving = issueServingCertificate(ca, { ...options, lifetime: days(validDays) });
  return { ca, serving };
}

export function createWebhookCa(namespace: string, lifetime: Lifetime): KeyPair {
  return createCertificateAuthority(`ebb webhook CA (${namespace})`, lifetime);
}

/** The webhook Service's serving certificate, signed by `ca`. */
export function issueServingCertificate(ca: KeyPair, options: Omit<WebhookCertificateOptions, 'validDays'> & { lifetime: Lifetime }): KeyPair {
  return issueCertificate(ca, {
    commonName: `${options.service}.${options.namespace}.svc`,
    dnsNames: serviceDnsNames(options.service, options.namespace),
    ipAddresses: [...(options.ipAddresses ?? ['127.0.0.1'])],
    usage: 'server',
    lifetime: options.lifetime,
  });
}

/** Writes ca.crt, tls.crt and tls.key (readable by the owner only) into dir; returns their paths. */
export async function writeWebhookCertificates(dir: string, certificates: WebhookCertificates) {
  await mkdir(dir, { recursive: true });
  const paths = { caCert: join(dir, 'ca.crt'), cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') };
  await writeFile(paths.caCert, certificates.ca.certPem);
  await writeFile(paths.cert, certificates.serving.certPem);
  await writeFile(paths.key, certificates.serving.keyPem, { mode: 0o600 });
  await chmod(paths.key, 0o600);
  return paths;
}
