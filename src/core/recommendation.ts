// Request recommendations, per container name, as the controller publishes them in the
// Deployment's `ebb.dev/status` annotation (so the webhook reads them from its informer cache):
// `{"recommendation":{"containers":{"app":{"cpu":"250m","memory":"256Mi","lower":{…},"upper":{…},
// "confidence":0.42,"newestSample":"2026-…Z"}}}, …}`. `cpu` and `memory` are the targets.
import { formatCpu, formatMemory, parseCpu, parseMemory } from './quantity.ts';
import type { ContainerRecommendation } from './recommender/index.ts';
import { rememberedPerObject } from './remembered.ts';

export interface ContainerRequests {
  cpuMillis?: number;
  memoryBytes?: number;
  /** The recommendation's upper bound for memory: no memory limit is left below it. */
  memoryUpperBytes?: number;
  /** Too little history to trust a decrease: a target only raises a request. */
  raiseOnly?: boolean;
}

/** By container name. */
export type Recommendation = Readonly<Record<string, ContainerRequests>>;

/** The recommendation in a status annotation; undefined when there is none or it cannot be read. */
export function recommendationFromStatus(status: string | undefined): Recommendation | undefined {
  if (!status) return undefined;
  try {
    return targetsOf((JSON.parse(status) as { recommendation?: { containers?: unknown } }).recommendation?.containers);
  } catch {
    return undefined;
  }
}

/** The targets of a status recommendation's `containers`; undefined when it is not an object. */
export function targetsOf(containers: unknown): Recommendation | undefined {
  if (typeof containers !== 'object' || containers === null) return undefined;
  return formattedTargets.get(containers) ?? parsedTargets(containers);
}

/**
 * The targets of the recommendations statusRecommendation formatted, as the numbers it formatted:
 * every round publishes a new recommendation for every workload, and parsing its quantities back
 * was a fifth of the round's work (profile of the sizing loop's unit test at 600 workloads).
 * Whole millicores and bytes format exactly, so these are what parsing the texts would give.
 */
const formattedTargets = new WeakMap<object, Recommendation>();

/**
 * Targets, by the containers object they were read from: the status of every workload compares
 * the same parsed annotation and the same published recommendation every tick until one of them
 * is replaced, and parsing their quantities again was most of that comparison (bench:controller
 * profile). The objects are read only, and so are the targets returned.
 */
const parsedTargets = rememberedPerObject((containers: object) => parseTargets(containers));

function parseTargets(containers: object): Recommendation {
  const recommendation: Record<string, ContainerRequests> = {};
  for (const [name, requests] of Object.entries(
    containers as Record<string, { cpu?: unknown; memory?: unknown; upper?: { memory?: unknown }; raiseOnly?: unknown }>,
  )) {
    const cpu = typeof requests?.cpu === 'string' ? parseCpu(requests.cpu) : undefined;
    const memory = typeof requests?.memory === 'string' ? parseMemory(requests.memory) : undefined;
    const memoryUpper = typeof requests?.upper?.memory === 'string' ? parseMemory(requests.upper.memory) : undefined;
    recommendation[name] = {
      ...(cpu?.ok ? { cpuMillis: cpu.value } : {}),
      ...(memory?.ok ? { memoryBytes: memory.value } : {}),
      ...(memoryUpper?.ok ? { memoryUpperBytes: memoryUpper.value } : {}),
      ...(requests?.raiseOnly === true ? { raiseOnly: true } : {}),
    };
  }
  return recommendation;
}

export interface StatusContainerRecommendation {
  cpu: string;
  memory: string;
  lower: { cpu: string; memory: string };
  upper: { cpu: string; memory: string };
  /** 0..1: how much history stands behind it. */
  confidence: number;
  /** ISO time of the newest usage sample behind it. */
  newestSample?: string;
  /** Present (true) while the history is too short to trust a decrease: targets only raise requests. */
  raiseOnly?: true;
}

export interface StatusRecommendation {
  containers: Record<string, StatusContainerRecommendation>;
}

/** The recommender's figures as written into the status annotation, in Kubernetes quantities. */
export function statusRecommendation(recommendations: ReadonlyMap<string, ContainerRecommendation>): StatusRecommendation {
  const containers: Record<string, StatusContainerRecommendation> = {};
  const targets: Record<string, ContainerRequests> = {};
  let exact = true;
  for (const [name, { cpu, memory, confidence, newestSampleAt, raiseOnly }] of [...recommendations].sort(([a], [b]) => a.localeCompare(b))) {
    exact &&= [cpu.targetMillis, memory.targetBytes, memory.upperBytes].every((amount) => Number.isSafeInteger(amount) && amount >= 0);
    targets[name] = {
      cpuMillis: cpu.targetMillis,
      memoryBytes: memory.targetBytes,
      memoryUpperBytes: memory.upperBytes,
      ...(raiseOnly ? { raiseOnly: true } : {}),
    };
    containers[name] = {
      cpu: formatCpu(cpu.targetMillis),
      memory: formatMemory(memory.targetBytes),
      lower: { cpu: formatCpu(cpu.lowerMillis), memory: formatMemory(memory.lowerBytes) },
      upper: { cpu: formatCpu(cpu.upperMillis), memory: formatMemory(memory.upperBytes) },
      confidence: Math.round(confidence * 100) / 100,
      ...(newestSampleAt !== null ? { newestSample: new Date(newestSampleAt).toISOString() } : {}),
      ...(raiseOnly ? { raiseOnly: true as const } : {}),
    };
  }
  if (exact) formattedTargets.set(containers, targets);
  return { containers };
}

/**
 * The containers whose target moved by more than `tolerance` (relative) for CPU or memory, or that
 * appeared: what deserves an Event and a prompt status write. A container that disappeared is not
 * a move.
 */
export function movedContainers(previous: Recommendation | undefined, next: Recommendation, tolerance: number): string[] {
  const moved = (before: number | undefined, after: number | undefined) =>
    after !== undefined && (before === undefined || Math.abs(after - before) > tolerance * Math.max(before, 1));
  return Object.entries(next)
    .filter(([name, requests]) => {
      const before = previous?.[name];
      return moved(before?.cpuMillis, requests.cpuMillis) || moved(before?.memoryBytes, requests.memoryBytes);
    })
    .map(([name]) => name);
}
