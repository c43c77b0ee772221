// The renewal plan at stepped times, and the whole life of the certificates over 25 years as the
// controller lives it: every plan carried out at once, the clock stepped 3 hours at a time.

import { expect } from 'chai';
import { dueAt, planRenewal, renewalPolicy, type StoredCertificatesView, type Validity } from '../../../src/core/certificate-renewal.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const policy = renewalPolicy(365 * DAY);
const T0 = Date.parse('2030-01-01T00:00:00Z');
const valid = (from: number, days: number): Validity => ({ issuedAt: from, notAfter: from + days * DAY });

describe('certificate renewal', () => {
  it('makes a CA and a serving certificate when there is none, or the CA is unusable', () => {
    expect(planRenewal({}, T0, policy)).to.deep.include({
      newCa: true,
      newServing: true,
      alsoTrust: undefined,
      acts: true,
      reasons: ['no CA yet', 'no serving certificate yet'],
    });
    const expired = planRenewal({ ca: valid(T0 - 4000 * DAY, 3650), serving: { ...valid(T0 - 10 * DAY, 365), signedBy: 'ca' } }, T0, policy);
    expect(expired).to.deep.include({ newCa: true, newServing: true, alsoTrust: undefined });
    expect(expired.reasons).to.deep.equal(['the CA expired', 'the serving certificate is not signed by a CA the caBundle keeps']);
  });

  it('does nothing while both are fresh, and says when the serving certificate falls due', () => {
    const view: StoredCertificatesView = { ca: valid(T0, 3650), serving: { ...valid(T0, 365), signedBy: 'ca' } };
    const plan = planRenewal(view, T0 + DAY, policy);
    expect(plan).to.deep.include({ newCa: false, newServing: false, alsoTrust: undefined, acts: false, reasons: [] });
    expect(plan.nextCheckAt).to.equal(dueAt(view.serving!));
    expect(plan.nextCheckAt).to.equal(T0 + ((365 * 2) / 3) * DAY);
  });

  it('renews the serving certificate with a third of its life left, from the same CA', () => {
    const view: StoredCertificatesView = { ca: valid(T0, 3650), serving: { ...valid(T0, 365), signedBy: 'ca' } };
    expect(planRenewal(view, dueAt(view.serving!) - 1, policy).newServing).to.equal(false);
    expect(planRenewal(view, dueAt(view.serving!), policy)).to.deep.include({
      newCa: false,
      newServing: true,
      reasons: ['the serving certificate is due for renewal'],
    });
  });

  it('replaces a serving certificate that no trusted CA signed, or that expired, at once', () => {
    const ca = valid(T0, 3650);
    expect(planRenewal({ ca, serving: { ...valid(T0, 365), signedBy: 'neither' } }, T0 + DAY, policy).newServing).to.equal(true);
    expect(planRenewal({ ca, serving: { ...valid(T0 - 400 * DAY, 365), signedBy: 'ca' } }, T0 + DAY, policy).reasons).to.deep.equal([
      'the serving certificate expired',
    ]);
  });

  it('renews the CA with an overlap: both trusted, the serving certificate moved after it, the old CA dropped after that', () => {
    const oldCa = valid(T0, 3650);
    const serving = { ...valid(T0 + 3000 * DAY, 365), signedBy: 'ca' as const };
    const due = dueAt(oldCa);
    // 1. The new CA, trusted beside the old one; the serving certificate stays.
    expect(planRenewal({ ca: oldCa, serving }, due, policy)).to.deep.include({
      newCa: true,
      newServing: false,
      alsoTrust: 'ca',
      reasons: ['the CA is due for renewal'],
    });
    // 2. Within the overlap nothing moves; the next check is when it ends.
    const newCa = valid(due, 3650);
    const switching: StoredCertificatesView = { ca: newCa, previousCa: oldCa, serving: { ...serving, signedBy: 'previous-ca' } };
    const waiting = planRenewal(switching, due + policy.overlapMs - 1, policy);
    expect(waiting).to.deep.include({ acts: false, alsoTrust: 'previous-ca' });
    expect(waiting.nextCheckAt).to.equal(due + policy.overlapMs);
    // 3. Then the serving certificate is reissued from the new CA, the old CA still trusted.
    expect(planRenewal(switching, due + policy.overlapMs, policy)).to.deep.include({
      newCa: false,
      newServing: true,
      alsoTrust: 'previous-ca',
      reasons: ['the serving certificate moves to the new CA'],
    });
    // 4. The old CA goes once the new serving certificate has been out for the overlap.
    const moved: StoredCertificatesView = { ca: newCa, previousCa: oldCa, serving: { ...valid(due + policy.overlapMs, 365), signedBy: 'ca' } };
    expect(planRenewal(moved, due + 2 * policy.overlapMs - 1, policy)).to.deep.include({ acts: false, alsoTrust: 'previous-ca' });
    expect(planRenewal(moved, due + 2 * policy.overlapMs, policy)).to.deep.include({
      acts: true,
      newCa: false,
      newServing: false,
      alsoTrust: undefined,
      reasons: ['the previous CA is no longer needed'],
    });
  });

  it("keeps trusting the CA of a serving certificate still in use when its own CA's key is lost (a Secret made by hand, or deleted)", () => {
    const handMade: StoredCertificatesView = { previousCa: valid(T0, 3650), serving: { ...valid(T0, 365), signedBy: 'previous-ca' } };
    expect(planRenewal(handMade, T0 + DAY, policy)).to.deep.include({ newCa: true, newServing: false, alsoTrust: 'previous-ca' });
  });

  it("scales the overlap to a short life: an hour, or a tenth of the serving certificate's life", () => {
    expect(renewalPolicy(365 * DAY).overlapMs).to.equal(HOUR);
    expect(renewalPolicy(60_000).overlapMs).to.equal(12_000);
  });

  // The controller's life: each plan carried out at once (as the Secrets would hold it), the
  // clock stepped by 3 hours (its rounds are at least every minute; 3 hours still meet every
  // deadline, each over a day away). The CA is renewed every 6⅔ years: 3 times in 25.
  it('over 25 years: the serving certificate is always valid and trusted; a new CA signs only after the overlap, an old one is dropped only after it', () => {
    type Cert = Validity & { id: number };
    let next = 0;
    const issue = (now: number, days: number): Cert => ({ id: next++, issuedAt: now, notAfter: now + days * DAY });
    let ca: Cert | undefined;
    let previous: Cert | undefined;
    let serving: (Cert & { signer: Cert }) | undefined;
    const trustedSince = new Map<number, number>();
    const events: string[] = [];
    // Broken promises, by the time they were broken: one assertion at the end, as 73,000 chai
    // assertions in the loop were most of this test's 2 s.
    const violations: string[] = [];
    const end = T0 + 25 * 365 * DAY;
    for (let now = T0; now < end; now += 3 * HOUR) {
      const view: StoredCertificatesView = {
        ca,
        previousCa: previous,
        serving: serving && { ...serving, signedBy: serving.signer === ca ? 'ca' : serving.signer === previous ? 'previous-ca' : 'neither' },
      };
      const plan = planRenewal(view, now, policy);
      const at = () => new Date(now).toISOString();
      if (!plan.acts) {
        if (!(plan.nextCheckAt > now)) violations.push(`${at()}: the next check, ${plan.nextCheckAt}, is not in the future`);
      } else {
        const before = ca;
        if (plan.newCa) ca = issue(now, 3650);
        previous = plan.alsoTrust === 'ca' ? before : plan.alsoTrust === 'previous-ca' ? previous : undefined;
        if (plan.newServing) serving = { ...issue(now, 365), signer: ca! };
        events.push(`${plan.newCa ? 'ca ' : ''}${plan.newServing ? 'serving ' : ''}${plan.alsoTrust ?? '-'}`);
      }
      const bundle = [ca!, ...(previous ? [previous] : [])];
      for (const cert of bundle) if (!trustedSince.has(cert.id)) trustedSince.set(cert.id, now);
      for (const id of [...trustedSince.keys()]) if (!bundle.some((cert) => cert.id === id)) trustedSince.delete(id);
      // Always: a valid serving certificate, signed by a CA the caBundle trusts…
      if (!(serving && now < serving.notAfter && bundle.includes(serving.signer)))
        violations.push(`${at()}: no valid serving certificate signed by a trusted CA`);
      // …and trusted for the overlap already when first served (but for the first, nothing to break).
      else if (serving.id > 1 && serving.issuedAt === now && now - trustedSince.get(serving.signer.id)! < policy.overlapMs) {
        violations.push(`${at()}: serving certificate ${serving.id} signed by a CA trusted for less than the overlap`);
      }
    }
    expect(violations).to.deep.equal([]);
    // The first pair, 3 CA renewals each with its switch and drop, and a serving certificate every
    // 8 months (renewed with a third of a year left) besides.
    expect(events[0]).to.equal('ca serving -');
    expect(events.filter((event) => event === 'ca ca')).to.have.length(3);
    expect(events.filter((event) => event === 'serving previous-ca')).to.have.length(3);
    expect(events.filter((event) => event === '-')).to.have.length(3);
    expect(events.filter((event) => event === 'serving -').length).to.be.within(30, 40);
    expect(events).to.have.length(1 + 9 + events.filter((event) => event === 'serving -').length);
  });
});
