import { expect } from 'chai';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createWebhookCertificates } from '../../../certs/webhook-certificates.ts';

describe('webhook certificates', function () {
  this.timeout(20_000);

  it('issues a serving certificate for the Service names and 127.0.0.1, signed by the CA', () => {
    const { ca, serving } = createWebhookCertificates({ service: 'ebb-webhook', namespace: 'ebb-system', validDays: 30 });
    const caCert = new X509Certificate(ca.certPem);
    const cert = new X509Certificate(serving.certPem);
    expect(cert.subjectAltName).to.equal('DNS:ebb-webhook.ebb-system.svc, DNS:ebb-webhook.ebb-system.svc.cluster.local, IP Address:127.0.0.1');
    expect(cert.verify(caCert.publicKey)).to.equal(true);
    expect(cert.checkIssued(caCert)).to.equal(true);
    expect(caCert.ca).to.equal(true);
    expect(cert.ca).to.equal(false);
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    expect(days).to.be.within(29.9, 30.1);
    expect(cert.checkPrivateKey(createPrivateKey(serving.keyPem))).to.equal(true);
  });
});
