// The webhook's self-managed certificates as two Secrets hold them, read back and checked, and
// renewed as a plan (src/core/certificate-renewal.ts) says. No API calls here: the controller
// reads and writes the Secrets (src/kube/webhook-secrets.ts).
//
//   ebb-webhook-tls (kubernetes.io/tls, mounted by the webhook): ca.crt, the caBundle (the signing
//     CA, then the previous one during a switch); tls.crt and tls.key, the serving pair.
//   ebb-webhook-ca (kubernetes.io/tls, read by the controller only): tls.crt and tls.key, the CA's
//     pair. The key has to outlive the controller's pods, or every renewal of the serving
//     certificate would need a new CA and a new caBundle.
//
// Whatever cannot be used (not PEM, a key that does not match, a serving certificate for other
// names, a CA that is not one) counts as absent and is reported, so it gets replaced.

import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { StoredCertificatesView, RenewalPlan, Validity } from '../src/core/certificate-renewal.ts';
import { issuedAt, type KeyPair, type Lifetime } from './pki.ts';
import { createWebhookCa, issueServingCertificate, serviceDnsNames } from './webhook-certificates.ts';

export const WEBHOOK_TLS_SECRET = 'ebb-webhook-tls';
export const WEBHOOK_CA_SECRET = 'ebb-webhook-ca';

/** A Secret's data, decoded to text. */
export type SecretText = Record<string, string>;

export interface StoredCertificates {
  ca?: KeyPair;
  /** The CA certificate the caBundle also trusts, during a switch. */
  previousCaPem?: string;
  serving?: KeyPair;
}

export interface ReadCertificates {
  stored: StoredCertificates;
  view: StoredCertificatesView;
  /** What was found but cannot be used, one sentence each (it will be replaced). */
  problems: string[];
}

export interface WebhookService {
  service: string;
  namespace: string;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function validity(cert: X509Certificate): Validity {
  const notAfter = Date.parse(cert.validTo);
  return { issuedAt: issuedAt(Date.parse(cert.validFrom), notAfter), notAfter };
}
const signs = (ca: X509Certificate, cert: X509Certificate) => cert.checkIssued(ca) && cert.verify(ca.publicKey);

/** The certificate and its matching key, or why not. */
function keyPair(text: SecretText | undefined, what: string): { pair: KeyPair; cert: X509Certificate } | { problem: string } | undefined {
  const certPem = text?.['tls.crt'];
  const keyPem = text?.['tls.key'];
  if (!certPem && !keyPem) return undefined;
  try {
    const cert = new X509Certificate(certPem ?? '');
    if (!cert.checkPrivateKey(createPrivateKey(keyPem ?? ''))) return { problem: `${what}: tls.key does not belong to tls.crt` };
    return { pair: { certPem: certPem!, keyPem: keyPem! }, cert };
  } catch (error) {
    return { problem: `${what}: tls.crt and tls.key are not a PEM certificate and key (${(error as Error).message})` };
  }
}

function readCa(text: SecretText | undefined, problems: string[]): { pair: KeyPair; cert: X509Certificate } | undefined {
  const found = keyPair(text, `Secret ${WEBHOOK_CA_SECRET}`);
  if (found && 'problem' in found) problems.push(found.problem);
  else if (found && !found.cert.ca) problems.push(`Secret ${WEBHOOK_CA_SECRET}: tls.crt is not a CA certificate`);
  else return found;
  return undefined;
}

function readServing(text: SecretText | undefined, names: string[], problems: string[]): { pair: KeyPair; cert: X509Certificate } | undefined {
  const found = keyPair(text, `Secret ${WEBHOOK_TLS_SECRET}`);
  if (!found) return undefined;
  if ('problem' in found) {
    problems.push(found.problem);
    return undefined;
  }
  const missing = names.filter((name) => !found.cert.checkHost(name, { wildcards: false, subject: 'never' }));
  if (missing.length > 0) {
    problems.push(`Secret ${WEBHOOK_TLS_SECRET}: the serving certificate is not valid for ${missing.join(', ')}`);
    return undefined;
  }
  return found;
}

/** The CA certificates of the caBundle (ca.crt) other than `signing`. */
function otherCas(text: SecretText | undefined, signing: X509Certificate | undefined, problems: string[]): X509Certificate[] {
  return (text?.['ca.crt']?.match(PEM_CERTIFICATE) ?? []).flatMap((pem) => {
    try {
      const cert = new X509Certificate(pem);
      return cert.ca && cert.fingerprint256 !== signing?.fingerprint256 ? [cert] : [];
    } catch {
      problems.push(`Secret ${WEBHOOK_TLS_SECRET}: a certificate in ca.crt is not readable`);
      return [];
    }
  });
}

/** The two Secrets' contents (undefined: no such Secret), checked for the webhook Service's names. */
export function readStoredCertificates(tls: SecretText | undefined, ca: SecretText | undefined, where: WebhookService): ReadCertificates {
  const problems: string[] = [];
  const signing = readCa(ca, problems);
  const serving = readServing(tls, serviceDnsNames(where.service, where.namespace), problems);
  const others = otherCas(tls, signing?.cert, problems);
  // The previous CA: the one that signed the serving certificate, else the latest to expire.
  const previous = others.find((other) => serving && signs(other, serving.cert)) ?? others.sort((a, b) => Date.parse(b.validTo) - Date.parse(a.validTo))[0];
  const signedBy = !serving
    ? undefined
    : signing && signs(signing.cert, serving.cert)
      ? 'ca'
      : previous && signs(previous, serving.cert)
        ? 'previous-ca'
        : 'neither';
  return {
    stored: { ca: signing?.pair, previousCaPem: previous?.toString(), serving: serving?.pair },
    view: {
      ca: signing && validity(signing.cert),
      previousCa: previous && validity(previous),
      serving: serving && { ...validity(serving.cert), signedBy: signedBy! },
    },
    problems,
  };
}

export interface Lifetimes {
  serving: Lifetime;
  ca: Lifetime;
}

/** The certificates after `plan`: a new CA and serving pair where it says, the caBundle it keeps. */
export function renewCertificates(
  stored: StoredCertificates,
  plan: RenewalPlan,
  where: WebhookService,
  lifetimes: Lifetimes,
): Required<Pick<StoredCertificates, 'ca' | 'serving'>> & StoredCertificates {
  const ca = plan.newCa ? createWebhookCa(where.namespace, lifetimes.ca) : stored.ca!;
  const previousCaPem = plan.alsoTrust === 'ca' ? stored.ca?.certPem : plan.alsoTrust === 'previous-ca' ? stored.previousCaPem : undefined;
  const serving = plan.newServing ? issueServingCertificate(ca, { ...where, lifetime: lifetimes.serving }) : stored.serving!;
  return { ca, previousCaPem, serving };
}

/** The caBundle: the signing CA, then the previous one (with one kind of line end: forge writes CRLF). */
export const caBundle = (certificates: StoredCertificates) =>
  [certificates.ca?.certPem, certificates.previousCaPem]
    .filter(Boolean)
    .map((pem) => `${pem!.replaceAll('\r\n', '\n').trim()}\n`)
    .join('');

/** The two Secrets' data for these certificates. */
export function secretTexts(certificates: Required<Pick<StoredCertificates, 'ca' | 'serving'>> & StoredCertificates): { tls: SecretText; ca: SecretText } {
  return {
    tls: { 'ca.crt': caBundle(certificates), 'tls.crt': certificates.serving.certPem, 'tls.key': certificates.serving.keyPem },
    ca: { 'tls.crt': certificates.ca.certPem, 'tls.key': certificates.ca.keyPem },
  };
}
