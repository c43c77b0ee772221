// Request recommendations, per container name, as the controller publishes them in the
// Deployment's `ebb.dev/status` annotation (so the webhook reads them from its informer cache):
// `{"recommendation":{"containers":{"app":{"cpu":"250m","memory":"256Mi"}}}, …}`.
import { parseCpu, parseMemory } from './quantity.ts';

export interface ContainerRequests {
  cpuMillis?: number;
  memoryBytes?: number;
}

/** By container name. */
export type Recommendation = Readonly<Record<string, ContainerRequests>>;

/** The recommendation in a status annotation; undefined when there is none or it cannot be read. */
export function recommendationFromStatus(status: string | undefined): Recommendation | undefined {
  if (!status) return undefined;
  let containers: unknown;
  try {
    containers = (JSON.parse(status) as { recommendation?: { containers?: unknown } }).recommendation?.containers;
  } catch {
    return undefined;
  }
  if (typeof containers !== 'object' || containers === null) return undefined;
  const recommendation: Record<string, ContainerRequests> = {};
  for (const [name, requests] of Object.entries(containers as Record<string, { cpu?: unknown; memory?: unknown }>)) {
    const cpu = typeof requests?.cpu === 'string' ? parseCpu(requests.cpu) : undefined;
    const memory = typeof requests?.memory === 'string' ? parseMemory(requests.memory) : undefined;
    recommendation[name] = {
      ...(cpu?.ok ? { cpuMillis: cpu.value } : {}),
      ...(memory?.ok ? { memoryBytes: memory.value } : {}),
    };
  }
  return recommendation;
}
