// When the webhook's self-managed certificates are renewed (the controller's leader acts on it,
// src/controller/webhook-certificates.ts). Two certificates matter: the CA, whose key the
// controller keeps and which the caBundle trusts, and the serving certificate it signs. Each is
// renewed once less than RENEW_SHARE of its life is left, so a renewal that fails has that third
// of the life to be retried and noticed (`kubectl ebb check` warns 14 days before expiry).
//
// A new CA is never used at once: for `overlapMs` the caBundle trusts both it and the CA that
// signed the serving certificate still in use (the API server needs to have loaded the new
// caBundle before the webhook presents a certificate signed by the new CA), then the serving
// certificate is reissued from the new CA, and the old CA stays trusted for another `overlapMs`
// (the kubelet needs up to a couple of minutes to update the webhook pods' mounted files).
// Nothing here keeps state: the certificates' own validity says where a renewal stands, so a new
// leader picks up where the last one stopped.

/** Renew a certificate once less than this share of its life is left. */
export const RENEW_SHARE = 1 / 3;

/**
 * When a certificate was issued and until when it is valid, in ms since the epoch. Issued, not
 * notBefore: notBefore is set back to allow for clock skew (certs/pki.ts), and an overlap counted
 * from it would be shorter by that much (all of it, for a short test certificate).
 */
export interface Validity {
  issuedAt: number;
  notAfter: number;
}

/** What the controller found in the Secrets, read and checked (unusable certificates are absent). */
export interface StoredCertificatesView {
  /** The CA the controller signs with (its key is stored). */
  ca?: Validity;
  /** Another CA the caBundle still trusts (during a switch from it to `ca`). */
  previousCa?: Validity;
  /** The serving certificate, and which of the two CAs signed it ('neither': no CA here did). */
  serving?: Validity & { signedBy: 'ca' | 'previous-ca' | 'neither' };
}

export interface RenewalPolicy {
  /** How long both CAs are trusted on each side of the switch of the serving certificate. */
  overlapMs: number;
}

export interface RenewalPlan {
  /** Make a new CA, which signs from now on. */
  newCa: boolean;
  /** Issue a new serving certificate (from the CA that signs after this plan). */
  newServing: boolean;
  /** Which CA the caBundle also trusts besides the signing one: the CA before a new one, or the previous one kept. */
  alsoTrust: 'ca' | 'previous-ca' | undefined;
  /** Whether the Secrets change: a new certificate, or a CA no longer trusted. */
  acts: boolean;
  /** Why, in words, for the log (empty when nothing is done). */
  reasons: string[];
  /**
   * When nothing is done now: the next time something becomes due (ms since the epoch). When the
   * plan acts, plan again on what it wrote.
   */
  nextCheckAt: number;
}

/**
 * The policy for serving certificates of this life: an overlap of an hour (the kubelet's copy of a
 * Secret lags by a minute or two), or a fifth of a short life, less than the third left when a
 * serving certificate falls due, so that one waiting for the switch stays valid.
 */
export function renewalPolicy(servingValidityMs: number): RenewalPolicy {
  return { overlapMs: Math.min(3_600_000, servingValidityMs / 5) };
}

/** When a certificate is due: RENEW_SHARE of its life before it expires. */
export const dueAt = (validity: Validity) => validity.notAfter - (validity.notAfter - validity.issuedAt) * RENEW_SHARE;

const usable = (validity: Validity | undefined, now: number): validity is Validity => validity !== undefined && now < validity.notAfter;

export function planRenewal(view: StoredCertificatesView, now: number, policy: RenewalPolicy): RenewalPlan {
  const reasons: string[] = [];
  const caUsable = usable(view.ca, now);
  const newCa = !caUsable || now >= dueAt(view.ca!);
  if (!view.ca) reasons.push('no CA yet');
  else if (!caUsable) reasons.push('the CA expired');
  else if (newCa) reasons.push('the CA is due for renewal');

  const alsoTrust = trustedBesides(view, now, policy, newCa);
  const serving = servingRenewal(view, now, policy, newCa, alsoTrust);
  if (serving.reason) reasons.push(serving.reason);
  const dropsPrevious = !newCa && view.previousCa !== undefined && alsoTrust === undefined;
  if (dropsPrevious) reasons.push('the previous CA is no longer needed');
  const acts = newCa || serving.renew || dropsPrevious;
  const times = acts ? [] : pendingTimes(view, policy);
  return { newCa, newServing: serving.renew, alsoTrust, acts, reasons, nextCheckAt: Math.min(...times.filter((time) => time > now), Infinity) };
}

/** The CA the caBundle keeps besides the signing one. */
function trustedBesides(view: StoredCertificatesView, now: number, policy: RenewalPolicy, newCa: boolean): RenewalPlan['alsoTrust'] {
  if (newCa) {
    // The CA being replaced stays trusted while its serving certificate is in use; a lost or
    // expired CA leaves the previous one, if that is what signed the serving certificate.
    if (usable(view.ca, now)) return 'ca';
    return view.serving?.signedBy === 'previous-ca' && usable(view.previousCa, now) ? 'previous-ca' : undefined;
  }
  if (!usable(view.previousCa, now)) return undefined;
  // Dropped once the serving certificate from the new CA has been out for the overlap.
  const switched = view.serving?.signedBy === 'ca' && now >= view.serving.issuedAt + policy.overlapMs;
  return switched ? undefined : 'previous-ca';
}

function servingRenewal(
  view: StoredCertificatesView,
  now: number,
  policy: RenewalPolicy,
  newCa: boolean,
  alsoTrust: RenewalPlan['alsoTrust'],
): { renew: boolean; reason?: string } {
  const serving = view.serving;
  if (!serving) return { renew: true, reason: 'no serving certificate yet' };
  if (now >= serving.notAfter) return { renew: true, reason: 'the serving certificate expired' };
  // After this plan, is the serving certificate's CA the signing one, the other trusted one, or gone?
  const signer = serving.signedBy === 'ca' && !newCa ? 'signing' : serving.signedBy === alsoTrust ? 'trusted' : 'untrusted';
  if (signer === 'untrusted') return { renew: true, reason: 'the serving certificate is not signed by a CA the caBundle keeps' };
  if (signer === 'trusted') {
    // Switched to the new CA once the caBundle has trusted it for the overlap.
    const switchable = !newCa && now >= view.ca!.issuedAt + policy.overlapMs;
    return switchable ? { renew: true, reason: 'the serving certificate moves to the new CA' } : { renew: false };
  }
  return now >= dueAt(serving) ? { renew: true, reason: 'the serving certificate is due for renewal' } : { renew: false };
}

/** The times at which something becomes due for the certificates as they are. */
function pendingTimes(view: StoredCertificatesView, policy: RenewalPolicy): number[] {
  const times = [dueAt(view.ca!), view.ca!.notAfter];
  if (view.serving) times.push(dueAt(view.serving), view.serving.notAfter);
  if (view.previousCa) {
    times.push(view.previousCa.notAfter, view.ca!.issuedAt + policy.overlapMs);
    if (view.serving) times.push(view.serving.issuedAt + policy.overlapMs);
  }
  return times;
}
