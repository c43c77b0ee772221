import { expect } from 'chai';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createCertificateAuthority, issueCertificate } from '../../../certs/pki.ts';

describe('local control plane PKI', () => {
  const ca = createCertificateAuthority('test-ca', 30);
  const caCert = new X509Certificate(ca.certPem);

  it('makes a self-signed CA', () => {
    expect(caCert.ca).to.equal(true);
    expect(caCert.subject).to.equal('CN=test-ca');
    expect(caCert.verify(caCert.publicKey)).to.equal(true);
  });

  it('issues a serving certificate with DNS and IP SANs, signed by the CA', () => {
    const serving = issueCertificate(ca, { commonName: 'api', dnsNames: ['kubernetes.default.svc'], ipAddresses: ['127.0.0.1'], usage: 'server' });
    const cert = new X509Certificate(serving.certPem);
    expect(cert.ca).to.equal(false);
    expect(cert.verify(caCert.publicKey)).to.equal(true);
    expect(cert.checkIssued(caCert)).to.equal(true);
    expect(cert.subjectAltName).to.equal('DNS:kubernetes.default.svc, IP Address:127.0.0.1');
    expect(cert.checkPrivateKey(createPrivateKey(serving.keyPem))).to.equal(true);
    expect(cert.keyUsage).to.deep.equal(['1.3.6.1.5.5.7.3.1']);
  });

  it('issues a client certificate whose organizations become groups', () => {
    const client = new X509Certificate(issueCertificate(ca, { commonName: 'admin', organizations: ['system:masters'], usage: 'client' }).certPem);
    expect(client.subject).to.equal('CN=admin\nO=system:masters');
    expect(client.keyUsage).to.deep.equal(['1.3.6.1.5.5.7.3.2']);
    expect(client.subjectAltName).to.equal(undefined);
  });

  it('honours the validity in days', () => {
    const cert = new X509Certificate(issueCertificate(ca, { commonName: 'short', usage: 'server', validDays: 2 }).certPem);
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    expect(days).to.be.within(1.9, 2.01);
  });
});
