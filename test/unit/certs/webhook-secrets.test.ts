// The self-managed certificates' Secret contents: built from a plan, read back, and whatever is
// broken in them found (and so replaced by the next plan), never thrown.

import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { createCertificateAuthority, days } from '../../../certs/pki.ts';
import { createWebhookCertificates } from '../../../certs/webhook-certificates.ts';
import { caBundle, readStoredCertificates, renewCertificates, secretTexts, type StoredCertificates } from '../../../certs/webhook-secrets.ts';
import { planRenewal, renewalPolicy } from '../../../src/core/certificate-renewal.ts';

const DAY = 86_400_000;
const where = { service: 'ebb-webhook', namespace: 'ebb-system' };
const lifetimes = (issuedAt: number) => ({ serving: { validMs: 365 * DAY, issuedAt }, ca: { validMs: 3650 * DAY, issuedAt } });
const policy = renewalPolicy(365 * DAY);

describe('webhook certificate Secrets', function () {
  this.timeout(20_000);
  const now = Date.now();
  let first: ReturnType<typeof secretTexts>;

  before(() => {
    const plan = planRenewal({}, now, policy);
    first = secretTexts(renewCertificates({}, plan, where, lifetimes(now)));
  });

  it('builds the first pair: a CA kept with its key, a serving certificate for the Service it signed, the caBundle holding the CA', () => {
    expect(Object.keys(first.tls).sort()).to.deep.equal(['ca.crt', 'tls.crt', 'tls.key']);
    expect(Object.keys(first.ca).sort()).to.deep.equal(['tls.crt', 'tls.key']);
    expect(new X509Certificate(first.tls['ca.crt']!).fingerprint256).to.equal(new X509Certificate(first.ca['tls.crt']!).fingerprint256);
    const serving = new X509Certificate(first.tls['tls.crt']!);
    expect(serving.subjectAltName).to.equal('DNS:ebb-webhook.ebb-system.svc, DNS:ebb-webhook.ebb-system.svc.cluster.local, IP Address:127.0.0.1');
    expect(serving.checkIssued(new X509Certificate(first.ca['tls.crt']!))).to.equal(true);
    expect(first.tls['tls.key']).to.not.equal(first.ca['tls.key']);
  });

  it('reads them back as they were written: nothing to do', () => {
    const read = readStoredCertificates(first.tls, first.ca, where);
    expect(read.problems).to.deep.equal([]);
    expect(read.view.serving?.signedBy).to.equal('ca');
    expect(read.view.previousCa).to.equal(undefined);
    const plan = planRenewal(read.view, now + DAY, policy);
    expect(plan.acts).to.equal(false);
    expect(secretTexts(renewCertificates(read.stored, plan, where, lifetimes(now + DAY)))).to.deep.equal(first);
  });

  it('reports corrupt data, a key of another certificate, a certificate for other names or a CA that is none, as absent', () => {
    const other = createWebhookCertificates({ service: 'other', namespace: 'elsewhere', validDays: 30 });
    const cases: [string, Record<string, string>, Record<string, string>, RegExp][] = [
      ['not PEM', { ...first.tls, 'tls.crt': 'garbage' }, first.ca, /ebb-webhook-tls: tls.crt and tls.key are not a PEM certificate and key/],
      ['a foreign key', { ...first.tls, 'tls.key': other.serving.keyPem }, first.ca, /ebb-webhook-tls: tls.key does not belong to tls.crt/],
      [
        'other names',
        { ...first.tls, 'tls.crt': other.serving.certPem, 'tls.key': other.serving.keyPem },
        first.ca,
        /not valid for ebb-webhook.ebb-system.svc, ebb-webhook.ebb-system.svc.cluster.local/,
      ],
      [
        'a CA that is not one',
        first.tls,
        { 'tls.crt': first.tls['tls.crt']!, 'tls.key': first.tls['tls.key']! },
        /ebb-webhook-ca: tls.crt is not a CA certificate/,
      ],
      ['a CA key only', first.tls, { 'tls.key': first.ca['tls.key']! }, /ebb-webhook-ca: tls.crt and tls.key are not a PEM certificate and key/],
    ];
    for (const [what, tls, ca, problem] of cases) {
      const read = readStoredCertificates(tls, ca, where);
      expect(read.problems, what).to.have.length(1);
      expect(read.problems[0], what).to.match(problem);
      // Replaced by the plan: something is renewed.
      expect(planRenewal(read.view, now, policy).acts, what).to.equal(true);
    }
  });

  it("takes over a Secret made by hand (its CA's key unknown): a new CA, the hand-made CA trusted until the serving certificate moves", () => {
    const handMade = createWebhookCertificates({ ...where, validDays: 365 });
    const tls = { 'ca.crt': handMade.ca.certPem, 'tls.crt': handMade.serving.certPem, 'tls.key': handMade.serving.keyPem };
    const read = readStoredCertificates(tls, undefined, where);
    expect(read.problems).to.deep.equal([]);
    expect(read.view.ca).to.equal(undefined);
    expect(read.view.serving?.signedBy).to.equal('previous-ca');
    const plan = planRenewal(read.view, now, policy);
    expect(plan).to.deep.include({ newCa: true, newServing: false, alsoTrust: 'previous-ca' });
    const renewed = renewCertificates(read.stored, plan, where, lifetimes(now));
    // The serving pair stays; the caBundle holds the new CA, then the hand-made one.
    expect(renewed.serving).to.deep.equal(read.stored.serving);
    const bundle = caBundle(renewed).match(/-----BEGIN CERTIFICATE-----/g);
    expect(bundle).to.have.length(2);
    expect(caBundle(renewed).endsWith(`${handMade.ca.certPem.replaceAll('\r\n', '\n').trim()}\n`)).to.equal(true);
    // Read back: the hand-made CA is the previous one, and it signed the serving certificate.
    const again = readStoredCertificates(secretTexts(renewed).tls, secretTexts(renewed).ca, where);
    expect(again.view.serving?.signedBy).to.equal('previous-ca');
    expect(again.view.previousCa).to.not.equal(undefined);
  });

  it('drops a certificate in ca.crt it cannot read, with a problem, and ignores one that is not a CA', () => {
    const stray: StoredCertificates = { ca: createCertificateAuthority('stray', days(30)) };
    const tls = { ...first.tls, 'ca.crt': `${first.tls['ca.crt']}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n${first.tls['tls.crt']}` };
    const read = readStoredCertificates(tls, first.ca, where);
    expect(read.problems).to.deep.equal(['Secret ebb-webhook-tls: a certificate in ca.crt is not readable']);
    expect(read.view.previousCa).to.equal(undefined);
    expect(caBundle(stray)).to.equal(`${stray.ca!.certPem.replaceAll('\r\n', '\n').trim()}\n`);
  });
});
