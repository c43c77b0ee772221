// `tsx certs/main.ts --out certs/out --service ebb-webhook --namespace <ebb's namespace> --days 365`
// writes ca.crt, tls.crt and tls.key for the webhook (certs/out/ is git-ignored).
import { parseArgs } from 'node:util';
import { DEFAULT_EBB_NAMESPACE } from '../src/core/opt-in.ts';
import { createWebhookCertificates, writeWebhookCertificates } from './webhook-certificates.ts';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'certs/out' },
    service: { type: 'string', default: 'ebb-webhook' },
    namespace: { type: 'string', default: DEFAULT_EBB_NAMESPACE },
    days: { type: 'string', default: '365' },
    ip: { type: 'string', multiple: true, default: ['127.0.0.1'] },
  },
});

const days = Number(values.days);
if (!Number.isInteger(days) || days < 1) {
  process.stderr.write(`--days ${JSON.stringify(values.days)} is not accepted: expected a whole number of days ≥ 1\n`);
  process.exit(2);
}
const paths = await writeWebhookCertificates(
  values.out,
  createWebhookCertificates({ service: values.service, namespace: values.namespace, validDays: days, ipAddresses: values.ip }),
);
process.stdout.write(`wrote ${paths.caCert}, ${paths.cert}, ${paths.key} (valid ${days} days)\n`);
