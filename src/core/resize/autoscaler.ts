// The resources whose requests an HorizontalPodAutoscaler's metrics depend on: a utilization
// target is usage divided by the pods' requests, so changing those requests moves the HPA's
// figure and the two controllers fight (kubernetes/autoscaler #6060). An AverageValue or Value
// target, or a custom or external metric, does not depend on requests. An HPA without metrics
// scales on CPU utilization (80 %), as autoscaling/v2 defaults it. Pure.
import type { V2MetricSpec } from '@kubernetes/client-node';
import { RESOURCES, type ResourceName } from '../pod-resources.ts';

const isResource = (name: string | undefined): name is ResourceName => RESOURCES.includes(name as ResourceName);

/** From the HPA's spec.metrics (absent or empty: its default). */
export function requestBoundResources(metrics: readonly V2MetricSpec[] | undefined): ResourceName[] {
  if (!metrics || metrics.length === 0) return ['cpu'];
  const bound = new Set<ResourceName>();
  for (const metric of metrics) {
    const source = metric.type === 'Resource' ? metric.resource : metric.type === 'ContainerResource' ? metric.containerResource : undefined;
    if (source?.target.type === 'Utilization' && isResource(source.name)) bound.add(source.name);
  }
  return RESOURCES.filter((resource) => bound.has(resource));
}
