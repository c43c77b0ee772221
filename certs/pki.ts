// ebb's PKI: a CA and the certificates it signs — the webhook's (webhook-certificates.ts) and, in
// the local control plane (src/localcluster), the API server's serving certificate and the client
// certificates of its users. Keys come from node:crypto (fast, native);
// node-forge builds and signs the X.509 certificates.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface KeyPair {
  certPem: string;
  keyPem: string;
}

export interface CertificateRequest {
  commonName: string;
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: 'server' | 'client' | 'server+client';
  /** Default: a year from now. */
  lifetime?: Lifetime;
}

/** How long a certificate is valid, from when (default: now, in ms since the epoch). */
export interface Lifetime {
  validMs: number;
  issuedAt?: number;
}

const DAY_MS = 86_400_000;
export const days = (count: number): Lifetime => ({ validMs: count * DAY_MS });

/**
 * How far notBefore is set back, so that an API server whose clock lags a little still accepts a
 * fresh certificate: five minutes, or a tenth of a short life (a minute-long test certificate
 * would otherwise be mostly in the past).
 */
export const backdateMs = (validMs: number) => Math.min(5 * 60_000, Math.floor(validMs / 10));

/**
 * When a certificate was issued, from its validity, undoing backdateMs: its notBefore is set back
 * 5 minutes when it lives 50 minutes or more (notBefore to notAfter: 55 minutes or more), else a
 * tenth of its life (an eleventh of notBefore to notAfter). For a certificate not set back at all
 * this is up to 5 minutes late, so an overlap counted from it only lasts longer.
 */
export function issuedAt(notBefore: number, notAfter: number): number {
  const span = notAfter - notBefore;
  return notBefore + (span >= 55 * 60_000 ? 5 * 60_000 : Math.floor(span / 11));
}

function rsaKey(): { keyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    keyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function baseCertificate(publicKeyPem: string, { validMs, issuedAt = Date.now() }: Lifetime): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  // A positive serial: the high bit cleared keeps the DER integer from reading as negative.
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  cert.serialNumber = serial.toString('hex');
  cert.validity.notBefore = new Date(issuedAt - backdateMs(validMs));
  cert.validity.notAfter = new Date(issuedAt + validMs);
  return cert;
}

export function createCertificateAuthority(commonName: string, lifetime: Lifetime = days(3650)): KeyPair {
  const { keyPem, publicKeyPem } = rsaKey();
  const cert = baseCertificate(publicKeyPem, lifetime);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

export function issueCertificate(ca: KeyPair, request: CertificateRequest): KeyPair {
  const { keyPem, publicKeyPem } = rsaKey();
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const cert = baseCertificate(publicKeyPem, request.lifetime ?? days(365));
  cert.setSubject([{ name: 'commonName', value: request.commonName }, ...(request.organizations ?? []).map((value) => ({ name: 'organizationName', value }))]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = [...(request.dnsNames ?? []).map((value) => ({ type: 2, value })), ...(request.ipAddresses ?? []).map((ip) => ({ type: 7, ip }))];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    {
      name: 'extKeyUsage',
      serverAuth: request.usage !== 'client',
      clientAuth: request.usage !== 'server',
    },
    ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** An RSA key pair for signing service-account tokens (the API server verifies with the public half). */
export function serviceAccountSigningKey(): { keyPem: string; publicKeyPem: string } {
  return rsaKey();
}
