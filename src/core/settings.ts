// The resolved settings of one workload: what the annotations, the namespace and the policy
// amount to after precedence is applied. Every program reads these; only the resolver builds them.
// Durations are milliseconds, CPU is millicores, memory is bytes.

export type ResizeMode = 'off' | 'initial' | 'in-place' | 'evict' | 'auto';
export const RESIZE_MODES: readonly ResizeMode[] = ['off', 'initial', 'in-place', 'evict', 'auto'];

/** 0 = Sunday … 6 = Saturday, as Date.getDay() and Intl agree. */
export type Weekday = 0 | 1 | 2 | 3 | 4 | 5 | 6;

/**
 * One keep-warm window, e.g. `Mon-Fri 08:00-19:00 Europe/Berlin replicas=2`.
 * The window starts on each listed day at startMinute (local time in timeZone) and lasts until
 * endMinute; an end before the start means the window runs past midnight into the next day.
 */
export interface KeepWarmWindow {
  days: readonly Weekday[];
  startMinute: number;
  endMinute: number;
  timeZone: string;
  replicas: number;
}

export interface ScalingSettings {
  minReplicas: number;
  maxReplicas: number;
  targetConcurrency: number;
  idleAfterMs: number;
  scaleDownDelayMs: number;
  keepWarm: readonly KeepWarmWindow[];
  paused: boolean;
}

export interface SizingSettings {
  resize: ResizeMode;
  cpuMinMillis?: number;
  cpuMaxMillis?: number;
  memoryMinBytes?: number;
  memoryMaxBytes?: number;
}

export interface TrafficSettings {
  /** The container port to intercept: a port name or number; undefined = `http`, else the first. */
  port?: string | number;
}

export interface WorkloadSettings {
  enabled: boolean;
  scaling: ScalingSettings;
  sizing: SizingSettings;
  traffic: TrafficSettings;
}
