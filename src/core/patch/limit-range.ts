// What a namespace's LimitRanges allow one container. The API server's LimitRanger checks every
// container after the mutating webhooks: a request below a LimitRange's `min`, or (with a `max`) a
// limit above it or no limit at all, refuses the whole pod. What ebb adds (the sidecar, the app's
// default requests) must fit, or ebb would stop the pod from being created.
import type { V1LimitRange, V1LimitRangeItem } from '@kubernetes/client-node';
import { parseCpu, parseMemory } from '../quantity.ts';
import type { Result } from '../result.ts';

export interface Bounds {
  min?: number;
  max?: number;
  /**
   * The limit LimitRanger gives a container that has none (`default`, which the API server fills
   * in from `max` when it is not written). The first LimitRange that sets one wins, as in LimitRanger.
   */
  defaultLimit?: number;
}

/** Per container, in millicores and bytes. */
export interface ContainerBounds {
  cpu: Bounds;
  memory: Bounds;
}

export const UNBOUNDED: ContainerBounds = { cpu: {}, memory: {} };

function tighter(bounds: Bounds, min: number | undefined, max: number | undefined, defaultLimit: number | undefined): Bounds {
  return {
    min: min === undefined ? bounds.min : Math.max(bounds.min ?? 0, min),
    max: max === undefined ? bounds.max : Math.min(bounds.max ?? Infinity, max),
    defaultLimit: bounds.defaultLimit ?? defaultLimit,
  };
}

const amount = (parse: (text: string) => Result<number>, quantity: string | undefined) => {
  if (quantity === undefined) return undefined;
  const parsed = parse(quantity);
  return parsed.ok ? parsed.value : undefined;
};

/**
 * An item's `default`. client-node names it `_default` in the objects it deserializes (an
 * informer's list), while a watch event carries the JSON as sent (`default`).
 */
function defaultLimits(item: V1LimitRangeItem): Record<string, string> | undefined {
  return item._default ?? (item as { default?: Record<string, string> }).default;
}

/** The bounds every `Container` item of the namespace's LimitRanges sets, all of them at once. */
export function containerBounds(limitRanges: readonly V1LimitRange[]): ContainerBounds {
  let bounds = UNBOUNDED;
  for (const item of limitRanges.flatMap((range) => range.spec?.limits ?? []).filter((limit) => limit.type === 'Container')) {
    const defaults = defaultLimits(item);
    bounds = {
      cpu: tighter(bounds.cpu, amount(parseCpu, item.min?.cpu), amount(parseCpu, item.max?.cpu), amount(parseCpu, defaults?.cpu ?? item.max?.cpu)),
      memory: tighter(
        bounds.memory,
        amount(parseMemory, item.min?.memory),
        amount(parseMemory, item.max?.memory),
        amount(parseMemory, defaults?.memory ?? item.max?.memory),
      ),
    };
  }
  return bounds;
}

/** `value` moved into the bounds. */
export function within(bounds: Bounds, value: number): number {
  return Math.max(Math.min(value, bounds.max ?? Infinity), bounds.min ?? 0);
}
