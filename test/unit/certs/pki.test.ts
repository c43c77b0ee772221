import { expect } from 'chai';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { backdateMs, createCertificateAuthority, days, issuedAt as issuedFrom, issueCertificate } from '../../../certs/pki.ts';

describe('local control plane PKI', () => {
  const ca = createCertificateAuthority('test-ca', days(30));
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
    const cert = new X509Certificate(issueCertificate(ca, { commonName: 'short', usage: 'server', lifetime: days(2) }).certPem);
    const left = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    expect(left).to.be.within(1.9, 2.01);
  });

  it('is valid from its issue time less a clock-skew allowance of 5 minutes, or a tenth of a short life', () => {
    const issuedAt = Date.parse('2030-01-01T00:00:00Z');
    const long = new X509Certificate(issueCertificate(ca, { commonName: 'long', usage: 'server', lifetime: { validMs: 86_400_000, issuedAt } }).certPem);
    expect([Date.parse(long.validFrom), Date.parse(long.validTo)]).to.deep.equal([issuedAt - 5 * 60_000, issuedAt + 86_400_000]);
    const short = new X509Certificate(issueCertificate(ca, { commonName: 'short', usage: 'server', lifetime: { validMs: 60_000, issuedAt } }).certPem);
    expect([Date.parse(short.validFrom), Date.parse(short.validTo)]).to.deep.equal([issuedAt - 6_000, issuedAt + 60_000]);
    expect(backdateMs(60_000)).to.equal(6_000);
    // …which issuedAt undoes, from the certificate alone.
    expect(issuedFrom(Date.parse(long.validFrom), Date.parse(long.validTo))).to.equal(issuedAt);
    expect(issuedFrom(Date.parse(short.validFrom), Date.parse(short.validTo))).to.equal(issuedAt);
  });
});
