import { expect } from 'chai';
import { ControllerMetrics } from '../../../src/controller/metrics.ts';

const web = { key: 'shop/web', namespace: 'shop', name: 'web', replicas: 2 };
const api = { key: 'shop/api', namespace: 'shop', name: 'api', replicas: 1 };
const decision = (code: string, desiredReplicas: number | null) => ({ reason: { code }, desiredReplicas });

describe("a tick's decisions in the controller's metrics", () => {
  it('counts the decisions by reason once the tick is over, and sets the replica gauges of each workload', async () => {
    const metrics = new ControllerMetrics();
    metrics.tickDecisions.decided(web, decision('Scaled', 3));
    metrics.tickDecisions.decided(api, decision('Steady', 1));
    const during = await metrics.registry.getSingleMetricAsString('ebb_decisions_total');
    expect(during, 'counted when the tick is over').to.not.include('reason="Scaled"');
    metrics.tickDecisions.count();
    metrics.tickDecisions.decided(web, decision('Steady', 3));
    metrics.tickDecisions.count();

    const decisions = await metrics.registry.getSingleMetricAsString('ebb_decisions_total');
    expect(decisions).to.include('ebb_decisions_total{reason="Scaled"} 1').and.include('ebb_decisions_total{reason="Steady"} 2');
    const desired = await metrics.registry.getSingleMetricAsString('ebb_desired_replicas');
    expect(desired).to.include('ebb_desired_replicas{namespace="shop",deployment="web"} 3').and.include('{namespace="shop",deployment="api"} 1');
  });

  it('sets a gauge again when its figure changes, and leaves the desired count standing when a decision has none', async () => {
    const metrics = new ControllerMetrics();
    metrics.tickDecisions.decided(web, decision('Scaled', 3));
    metrics.tickDecisions.decided({ ...web, replicas: 3 }, decision('Paused', null));
    const actual = await metrics.registry.getSingleMetricAsString('ebb_actual_replicas');
    expect(actual).to.include('ebb_actual_replicas{namespace="shop",deployment="web"} 3');
    const desired = await metrics.registry.getSingleMetricAsString('ebb_desired_replicas');
    expect(desired).to.include('ebb_desired_replicas{namespace="shop",deployment="web"} 3');
  });
});
