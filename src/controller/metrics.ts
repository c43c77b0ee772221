// The controller's Prometheus metrics, on its own registry (src/program/metrics.ts).

import { ProgramMetrics } from '../program/metrics.ts';

/** The labels of a figure per workload, container and resource. */
const CONTAINER_RESOURCE = ['namespace', 'deployment', 'container', 'resource'] as const;

export class ControllerMetrics extends ProgramMetrics {
  readonly desiredReplicas = this.gauge('ebb_desired_replicas', 'Replicas the decider wants, by workload', ['namespace', 'deployment']);
  readonly actualReplicas = this.gauge('ebb_actual_replicas', 'spec.replicas as last seen, by workload', ['namespace', 'deployment']);
  readonly decisions = this.counter('ebb_decisions_total', 'Scaling decisions, by reason code', ['reason']);
  readonly scaleWrites = this.counter(
    'ebb_scale_writes_total',
    'Writes to the scale subresource, by outcome (written; moved: the count was no longer the one decided from, and nothing was written)',
    ['outcome'],
  );
  readonly loadRises = this.counter(
    'ebb_load_rises_total',
    "Agents' answers that a workload's load rose on their node; each asks for a tick ahead of the schedule",
  );
  readonly wakeRequests = this.counter('ebb_wake_requests_total', 'Wake-up requests from agents, by outcome', ['outcome']);
  readonly tickDuration = this.histogram(
    'ebb_controller_tick_duration_seconds',
    'Time for one controller tick (collecting activity, deciding, scaling and routing for every workload; status writes run behind it)',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  );
  /** The histogram's buckets are too coarse to see one tick; this is the last one exactly. */
  readonly lastTickDuration = this.gauge('ebb_controller_last_tick_duration_seconds', 'Time the last controller tick took');
  /** What a slow tick waited for: the agents, or the controller's own work (the rest of the tick). */
  readonly lastTickAgentsDuration = this.gauge(
    'ebb_controller_last_tick_agents_seconds',
    "Of the last controller tick, the time spent pulling the agents' activity (their answers, and reading them)",
  );
  readonly configErrors = this.counter('ebb_config_errors_total', 'Invalid annotation or policy values found', ['key']);
  readonly agentScrapeFailures = this.counter('ebb_agent_scrape_failures_total', 'Failed reads from agents, by report (activity, usage)', ['agent', 'report']);
  /** CPU in cores, memory in bytes: Prometheus' base units. */
  readonly recommendation = {
    target: this.gauge(
      'ebb_recommendation_target',
      'Recommended request, by workload, container and resource (cpu in cores, memory in bytes)',
      CONTAINER_RESOURCE,
    ),
    lower: this.gauge('ebb_recommendation_lower_bound', 'Lower bound of the recommendation (cpu in cores, memory in bytes)', CONTAINER_RESOURCE),
    upper: this.gauge('ebb_recommendation_upper_bound', 'Upper bound of the recommendation (cpu in cores, memory in bytes)', CONTAINER_RESOURCE),
    confidence: this.gauge('ebb_recommendation_confidence', 'How much history stands behind the recommendation, 0 to 1', [
      'namespace',
      'deployment',
      'container',
    ]),
    /** What the recommendation is set against on a dashboard, without kube-state-metrics. */
    templateRequests: this.gauge(
      'ebb_template_requests',
      'Requests the pod template asks for, by workload, container and resource (cpu in cores, memory in bytes): what the recommendation replaces',
      CONTAINER_RESOURCE,
    ),
  };
  readonly oomKills = this.counter('ebb_oom_kills_total', 'OOM kills reported by the agents, by workload and container', [
    'namespace',
    'deployment',
    'container',
  ]);
  readonly checkpointWrites = this.counter(
    'ebb_recommender_checkpoint_writes_total',
    'Writes of the recommender checkpoint shards, by outcome (written, failed)',
    ['outcome'],
  );
  readonly resizes = this.counter(
    'ebb_resizes_total',
    'In-place resizes of running pods, by outcome (written, applied, conflict, refused, failed; error: the kubelet failed to apply one; infeasible, deferred: the node refused or held one back past the timeout; offered: a pod offered for eviction instead)',
    ['outcome'],
  );
  readonly resizeWaiting = this.gauge(
    'ebb_resize_pods_waiting',
    "Pods whose requests ebb wants changed and that wait, by state (in-flight, deferred, error, backoff, queued: behind the in-flight limit, eviction: offered for eviction, reported: in-place mode, nothing more ebb may do, dry-run: the policy's dryRun holds the write)",
    ['state'],
  );
  readonly evictions = this.counter(
    'ebb_evictions_total',
    'Evictions through the Eviction API, by outcome (evicted; blocked: 429, a PodDisruptionBudget said no; gone: the pod had left; failed; dry-run: reported, not made)',
    ['outcome'],
  );
  readonly disruptionsWaiting = this.gauge(
    'ebb_disruptions_waiting',
    'Pods offered for replacement that wait (rate limit, window, backoff, readiness, a surge replica)',
  );
  readonly repairs = this.counter('ebb_repairs_total', 'Pods evicted to be replaced because they missed the webhook or carried an older injection');
  readonly leader = this.gauge('ebb_controller_leader', '1 while this replica leads');
  /** Where each tick's decisions go: into decisions, actualReplicas and desiredReplicas. */
  readonly tickDecisions = new DecisionGauges(this);
}

/**
 * What every tick's decisions put into the metrics, for every workload: the decisions counted by
 * reason (one increment per reason a tick, not per workload) and the replica gauges set only when
 * a figure changed. A label lookup per workload and metric every tick was a tenth of a tick at
 * 1,000 workloads (bench:controller profile).
 */
export class DecisionGauges {
  private readonly reasons = new Map<string, number>();
  /** Per workload, `actual/desired` as last set. */
  private readonly setTo = new Map<string, string>();

  constructor(private readonly metrics: ControllerMetrics) {}

  decided(
    workload: { key: string; namespace: string; name: string; replicas: number },
    decision: { reason: { code: string }; desiredReplicas: number | null },
  ): void {
    this.reasons.set(decision.reason.code, (this.reasons.get(decision.reason.code) ?? 0) + 1);
    const figures = `${workload.replicas}/${decision.desiredReplicas}`;
    if (this.setTo.get(workload.key) === figures) return;
    this.setTo.set(workload.key, figures);
    const labels = { namespace: workload.namespace, deployment: workload.name };
    this.metrics.actualReplicas.set(labels, workload.replicas);
    if (decision.desiredReplicas !== null) this.metrics.desiredReplicas.set(labels, decision.desiredReplicas);
  }

  /** Adds the tick's decisions to the counter; called once the tick has decided every workload. */
  count(): void {
    for (const [reason, count] of this.reasons) this.metrics.decisions.inc({ reason }, count);
    this.reasons.clear();
  }
}
