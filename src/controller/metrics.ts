// The controller's Prometheus metrics, on its own registry.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly desiredReplicas = new Gauge({
    name: 'ebb_desired_replicas',
    help: 'Replicas the decider wants, by workload',
    labelNames: ['namespace', 'deployment'],
    registers: [this.registry],
  });
  readonly actualReplicas = new Gauge({
    name: 'ebb_actual_replicas',
    help: 'spec.replicas as last seen, by workload',
    labelNames: ['namespace', 'deployment'],
    registers: [this.registry],
  });
  readonly decisions = new Counter({
    name: 'ebb_decisions_total',
    help: 'Scaling decisions, by reason code',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly scaleWrites = new Counter({
    name: 'ebb_scale_writes_total',
    help: 'Writes to the scale subresource, by outcome (written, conflict)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly wakeRequests = new Counter({
    name: 'ebb_wake_requests_total',
    help: 'Wake-up requests from agents, by outcome',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly tickDuration = new Histogram({
    name: 'ebb_controller_tick_duration_seconds',
    help: 'Time for one controller tick (collecting activity, deciding, scaling and routing for every workload; status writes run behind it)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  /** The histogram's buckets are too coarse to see one tick; this is the last one exactly. */
  readonly lastTickDuration = new Gauge({
    name: 'ebb_controller_last_tick_duration_seconds',
    help: 'Time the last controller tick took',
    registers: [this.registry],
  });
  readonly configErrors = new Counter({
    name: 'ebb_config_errors_total',
    help: 'Invalid annotation or policy values found',
    labelNames: ['key'],
    registers: [this.registry],
  });
  readonly agentScrapeFailures = new Counter({
    name: 'ebb_agent_scrape_failures_total',
    help: 'Failed reads from agents, by report (activity, usage)',
    labelNames: ['agent', 'report'],
    registers: [this.registry],
  });
  /** CPU in cores, memory in bytes: Prometheus' base units. */
  readonly recommendation = {
    target: new Gauge({
      name: 'ebb_recommendation_target',
      help: 'Recommended request, by workload, container and resource (cpu in cores, memory in bytes)',
      labelNames: ['namespace', 'deployment', 'container', 'resource'],
      registers: [this.registry],
    }),
    lower: new Gauge({
      name: 'ebb_recommendation_lower_bound',
      help: 'Lower bound of the recommendation (cpu in cores, memory in bytes)',
      labelNames: ['namespace', 'deployment', 'container', 'resource'],
      registers: [this.registry],
    }),
    upper: new Gauge({
      name: 'ebb_recommendation_upper_bound',
      help: 'Upper bound of the recommendation (cpu in cores, memory in bytes)',
      labelNames: ['namespace', 'deployment', 'container', 'resource'],
      registers: [this.registry],
    }),
    confidence: new Gauge({
      name: 'ebb_recommendation_confidence',
      help: 'How much history stands behind the recommendation, 0 to 1',
      labelNames: ['namespace', 'deployment', 'container'],
      registers: [this.registry],
    }),
    /** What the recommendation is set against on a dashboard, without kube-state-metrics. */
    templateRequests: new Gauge({
      name: 'ebb_template_requests',
      help: 'Requests the pod template asks for, by workload, container and resource (cpu in cores, memory in bytes): what the recommendation replaces',
      labelNames: ['namespace', 'deployment', 'container', 'resource'],
      registers: [this.registry],
    }),
  };
  readonly oomKills = new Counter({
    name: 'ebb_oom_kills_total',
    help: 'OOM kills reported by the agents, by workload and container',
    labelNames: ['namespace', 'deployment', 'container'],
    registers: [this.registry],
  });
  readonly checkpointWrites = new Counter({
    name: 'ebb_recommender_checkpoint_writes_total',
    help: 'Writes of the recommender checkpoints, by outcome (written, failed)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly resizes = new Counter({
    name: 'ebb_resizes_total',
    help: 'In-place resizes of running pods, by outcome (written, applied, conflict, refused, failed; error: the kubelet failed to apply one; infeasible, deferred: the node refused or held one back past the timeout; offered: a pod offered for eviction instead)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly resizeWaiting = new Gauge({
    name: 'ebb_resize_pods_waiting',
    help: "Pods whose requests ebb wants changed and that wait, by state (in-flight, deferred, error, backoff, queued: behind the in-flight limit, eviction: offered for eviction, reported: in-place mode, nothing more ebb may do, dry-run: the policy's dryRun holds the write)",
    labelNames: ['state'],
    registers: [this.registry],
  });
  readonly evictions = new Counter({
    name: 'ebb_evictions_total',
    help: 'Evictions through the Eviction API, by outcome (evicted; blocked: 429, a PodDisruptionBudget said no; gone: the pod had left; failed; dry-run: reported, not made)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly disruptionsWaiting = new Gauge({
    name: 'ebb_disruptions_waiting',
    help: 'Pods offered for replacement that wait (rate limit, window, backoff, readiness, a surge replica)',
    registers: [this.registry],
  });
  readonly repairs = new Counter({
    name: 'ebb_repairs_total',
    help: 'Pods evicted to be replaced because they missed the webhook or carried an older injection',
    registers: [this.registry],
  });
  readonly leader = new Gauge({ name: 'ebb_controller_leader', help: '1 while this replica leads', registers: [this.registry] });
}
