// The webhook's certificates and the caBundle that trusts them, kept by the leader in one of two
// modes (EBB_WEBHOOK_CERTIFICATES):
//   self-managed: the controller creates the CA and the serving certificate in the Secrets
//     ebb-webhook-ca and ebb-webhook-tls, renews them as src/core/certificate-renewal.ts plans,
//     and writes the caBundle. It reads the Secrets through the API, never from a mount: a mount
//     of a Secret that does not exist yet would keep its own pod from starting.
//   external: someone else issues the certificates (you, or cert-manager); the controller copies
//     the CA from EBB_WEBHOOK_CA_FILE into the caBundle when that file exists, and otherwise
//     leaves the caBundle alone (cert-manager's CA injector writes it).
// A round runs when the controller starts leading, then when the last one says the next step is
// due, and at least every minute, to notice a Secret or caBundle changed by hand.

import { existsSync, readFileSync } from 'node:fs';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import {
  caBundle,
  readStoredCertificates,
  renewCertificates,
  secretTexts,
  WEBHOOK_CA_SECRET,
  WEBHOOK_TLS_SECRET,
  type WebhookService,
} from '../../certs/webhook-secrets.ts';
import { planRenewal, renewalPolicy } from '../core/certificate-renewal.ts';
import { ensureWebhookCaBundle } from '../kube/ca-bundle.ts';
import { readSecret, writeSecret, type StoredSecret } from '../kube/webhook-secrets.ts';
import type { Log } from '../program/log.ts';

/** The most time between two rounds. */
const CHECK_INTERVAL_MS = 60_000;
/** After a failed round or a write that lost to another writer. */
const RETRY_MS = 5_000;
/** The least time between two rounds (a certificate due in a few ms is renewed a second later). */
const MIN_DELAY_MS = 1_000;

export type CertificateMode = 'self-managed' | 'external';
export const CERTIFICATE_MODES: readonly CertificateMode[] = ['self-managed', 'external'];

export interface CertificateSettings {
  mode: CertificateMode;
  /** external: the CA to copy into the caBundle, when the file exists. */
  webhookCaFile: string;
  webhookConfiguration: string;
  /** Where the Secrets are: the controller's own namespace. */
  namespace: string;
  /** The Service the API server calls; the serving certificate is for its names. */
  webhookService: string;
  servingValidityMs: number;
  caValidityMs: number;
}

/** One round; resolves with the time the next one is wanted (ms since the epoch). */
export type CertificateRound = (now: number) => Promise<number>;

export function certificateRound(kubeConfig: KubeConfig, settings: CertificateSettings, log: Log): CertificateRound {
  return settings.mode === 'self-managed' ? selfManaged(kubeConfig, settings, log) : external(kubeConfig, settings, log);
}

function external(kubeConfig: KubeConfig, settings: CertificateSettings, log: Log): CertificateRound {
  return async (now) => {
    if (existsSync(settings.webhookCaFile)) {
      const result = await ensureWebhookCaBundle(kubeConfig, settings.webhookConfiguration, readFileSync(settings.webhookCaFile, 'utf8'));
      if (result === 'updated') log('info', `caBundle of MutatingWebhookConfiguration ${settings.webhookConfiguration} set to the current CA`);
    }
    return now + CHECK_INTERVAL_MS;
  };
}

const sameText = (a: Record<string, string>, b: Record<string, string> | undefined) =>
  b !== undefined && Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([key, value]) => b[key] === value);

function selfManaged(kubeConfig: KubeConfig, settings: CertificateSettings, log: Log): CertificateRound {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const { namespace } = settings;
  const where: WebhookService = { service: settings.webhookService, namespace };
  const policy = renewalPolicy(settings.servingValidityMs);
  /** Writes the Secret if its text differs; false when another writer came first. */
  const write = async (name: string, text: Record<string, string>, read: StoredSecret | undefined) =>
    sameText(text, read?.text) || (await writeSecret(core, namespace, name, text, read)) === 'written';

  return async (now) => {
    const [tls, ca] = await Promise.all([readSecret(core, namespace, WEBHOOK_TLS_SECRET), readSecret(core, namespace, WEBHOOK_CA_SECRET)]);
    const found = readStoredCertificates(tls?.text, ca?.text, where);
    for (const problem of found.problems) log('warn', `${problem}; it is replaced`);
    const plan = planRenewal(found.view, now, policy);
    const lifetimes = { serving: { validMs: settings.servingValidityMs, issuedAt: now }, ca: { validMs: settings.caValidityMs, issuedAt: now } };
    const renewed = renewCertificates(found.stored, plan, where, lifetimes);
    const texts = secretTexts(renewed);
    // The CA's key is stored before anything it signs is used; the caBundle trusts a new CA
    // before the webhook's Secret (and so, through the kubelet, the webhook) can serve from it.
    if (!(await write(WEBHOOK_CA_SECRET, texts.ca, ca))) return now + MIN_DELAY_MS;
    const bundle = await ensureWebhookCaBundle(kubeConfig, settings.webhookConfiguration, caBundle(renewed));
    if (bundle === 'updated')
      log('info', `caBundle of MutatingWebhookConfiguration ${settings.webhookConfiguration} set from Secret ${namespace}/${WEBHOOK_TLS_SECRET}`);
    if (!(await write(WEBHOOK_TLS_SECRET, texts.tls, tls))) return now + MIN_DELAY_MS;
    if (plan.acts)
      log('info', `webhook certificates renewed: ${plan.reasons.join('; ')}`, { ca: plan.newCa, serving: plan.newServing, trusted: plan.alsoTrust ? 2 : 1 });
    // The next step on what was written: its time, or at once if it is due already.
    const next = planRenewal(readStoredCertificates(texts.tls, texts.ca, where).view, now, policy);
    return next.acts ? now : next.nextCheckAt;
  };
}

/** Runs the rounds while leading: kick() when leadership starts, stop() at the end. */
export class CertificateKeeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly round: CertificateRound,
    private readonly isLeader: () => boolean,
    private readonly report: (error: unknown) => void,
  ) {}

  /** A round now (if leading and none is running), then the next when it is due. */
  kick(): Promise<void> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async run(): Promise<void> {
    clearTimeout(this.timer);
    if (this.stopped || !this.isLeader()) return;
    const now = Date.now();
    let next = now + CHECK_INTERVAL_MS;
    try {
      next = Math.min(next, await this.round(now));
    } catch (error) {
      this.report(error);
      next = now + RETRY_MS;
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.kick(), Math.max(MIN_DELAY_MS, next - Date.now()));
  }
}
