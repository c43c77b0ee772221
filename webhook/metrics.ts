// The webhook's Prometheus metrics, on its own registry (src/program/metrics.ts).

import { ProgramMetrics } from '../src/program/metrics.ts';

export type AdmissionOutcome = 'injected' | 'skipped' | 'error';

export class WebhookMetrics extends ProgramMetrics {
  // The target is a p99 under 2 ms; the buckets resolve that range finely.
  readonly admissionDuration = this.histogram(
    'ebb_webhook_admission_duration_seconds',
    'Time to answer one AdmissionReview, from the whole body read to the response written, by outcome.',
    [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1, 0.5],
    ['outcome'],
  );

  readonly injections = this.counter(
    'ebb_webhook_injections_total',
    'Pods that were given ebb (annotations, requests and, when they serve a port, the interceptor).',
  );

  readonly errors = this.counter('ebb_webhook_errors_total', 'AdmissionReviews that failed inside the webhook and were allowed unchanged (fail open).');

  readonly configErrors = this.counter('ebb_config_errors_total', 'Configuration values that were not accepted, by source (annotation or policy).', ['source']);
}
