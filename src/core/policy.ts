// The cluster-wide policy: ConfigMap `ebb-policy` in ebb's namespace, key `policy.yaml`. Parsed into a
// typed, validated Policy; any problem rejects the whole edit (the caller keeps the last good
// policy) and is reported with its field path, the value and what is accepted. Unknown fields are
// errors too: a misspelt `excludedNamespace` must not silently exclude nothing.
import { parse as parseYaml } from 'yaml';
import { DEFAULT_ADMIN_PORT, DEFAULT_LISTEN_PORT } from '../protocol/sidecar.ts';
import { DURATION_FORM, formatDuration, parseDuration } from './duration.ts';
import { formatMemory, parseCpu, parseMemory } from './quantity.ts';
import { DEFAULT_SIZING, parseSizing, type SizingConfig } from './recommender/index.ts';
import type { Result } from './result.ts';
import { isSettingName, parseSetting, parseWholeNumber, SETTING_NAMES, type ConfigError, type SettingsLayer } from './setting-schema.ts';
import { parseTimeWindow, parseTimeWindows, type TimeWindow } from './time-window.ts';

export interface NamespaceRule {
  /** `enabled` opts every Deployment of the namespace in, as the namespace label does. */
  injection?: 'enabled' | 'disabled';
  settings: SettingsLayer;
}

export interface SidecarPolicy {
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  requests: { cpuMillis: number; memoryBytes: number };
  /** No CPU limit, ever: throttling the proxy in front of every request adds latency to all of them. */
  memoryLimitBytes?: number;
  /** The port the interceptor listens on (it takes over the app port's name). */
  listenPort: number;
  adminPort: number;
}

export interface EvictionPolicy {
  /** Evictions the controller may start per minute, cluster-wide. */
  ratePerMinute: number;
  /** When evictions may happen; empty = any time. */
  windows: readonly TimeWindow[];
  /** Plan and report evictions, evict nothing. */
  dryRun: boolean;
}

export interface ResizePolicy {
  /** A resize the node holds back (PodResizePending, reason Deferred) longer than this is given up: `auto` offers the pod for eviction, `in-place` says so in an Event. */
  deferredTimeoutMs: number;
}

export interface Policy {
  defaults: SettingsLayer;
  namespaces: ReadonlyMap<string, NamespaceRule>;
  excludedNamespaces: ReadonlySet<string>;
  sidecar: SidecarPolicy;
  /** Requests for containers that have none and no recommendation yet. */
  defaultRequests: { cpuMillis: number; memoryBytes: number };
  eviction: EvictionPolicy;
  /** The recommender's tuning (src/core/recommender/sizing.ts). */
  sizing: SizingConfig;
  /** How the controller resizes running pods (src/core/resize). */
  resize: ResizePolicy;
  /** Decide and report everything, change nothing: the webhook only annotates what it would do. */
  dryRun: boolean;
}

/** The policy when the ConfigMap does not exist or is empty; every field's default is here. */
export const DEFAULT_POLICY: Policy = {
  defaults: {},
  namespaces: new Map(),
  excludedNamespaces: new Set(),
  sidecar: {
    image: 'ghcr.io/ebb-dev/ebb-interceptor:0.1.0',
    imagePullPolicy: 'IfNotPresent',
    // Memory: the interceptor's RSS under bench:proxy's load (62.6 MB with its NODE_OPTIONS), rounded up.
    requests: { cpuMillis: 10, memoryBytes: 64 * 2 ** 20 },
    memoryLimitBytes: 128 * 2 ** 20,
    listenPort: DEFAULT_LISTEN_PORT,
    adminPort: DEFAULT_ADMIN_PORT,
  },
  defaultRequests: { cpuMillis: 100, memoryBytes: 128 * 2 ** 20 },
  eviction: { ratePerMinute: 5, windows: [], dryRun: false },
  sizing: DEFAULT_SIZING,
  // The VPA updater's figure for giving up on a deferred in-place resize.
  resize: { deferredTimeoutMs: 5 * 60_000 },
  dryRun: false,
};

export type PolicyResult = { ok: true; policy: Policy } | { ok: false; errors: ConfigError[] };

type Fields = Record<string, unknown>;

/** Walks the YAML document, collecting every problem rather than stopping at the first. */
class PolicyReader {
  readonly errors: ConfigError[] = [];

  report(path: string, value: unknown, problem: string): void {
    const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
    this.errors.push({ key: path || 'policy.yaml', value: text, message: `policy.yaml${path ? ` ${path}` : ''}: ${problem}` });
  }

  /** The object at path (absent = empty); unknown keys are reported with the known ones. */
  object(path: string, value: unknown, known: readonly string[] | 'any'): Fields {
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.report(path, value, `${JSON.stringify(value)} is not accepted: expected a mapping`);
      return {};
    }
    const fields = value as Fields;
    if (known !== 'any') {
      for (const key of Object.keys(fields).filter((key) => !known.includes(key))) {
        this.report(join(path, key), fields[key], `unknown field ${JSON.stringify(key)}: known fields are ${known.join(', ')}`);
      }
    }
    return fields;
  }

  /** A scalar read through a text parser, so YAML `5` and `"5"` mean the same. */
  parsed<T>(path: string, value: unknown, fallback: T, parse: (text: string) => Result<T>): T {
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      this.report(path, value, `${JSON.stringify(value)} is not accepted: expected a single value`);
      return fallback;
    }
    const result = parse(String(value));
    if (result.ok) return result.value;
    this.report(path, value, result.error);
    return fallback;
  }

  boolean(path: string, value: unknown, fallback: boolean): boolean {
    if (value === undefined || value === null || typeof value === 'boolean') return value ?? fallback;
    this.report(path, value, `${JSON.stringify(value)} is not accepted: expected true or false`);
    return fallback;
  }

  oneOf<T extends string, F>(path: string, value: unknown, fallback: F, choices: readonly T[]): T | F {
    if (value === undefined || value === null) return fallback;
    if (choices.includes(value as T)) return value as T;
    this.report(path, value, `${JSON.stringify(value)} is not accepted: expected ${choices.join(' | ')}`);
    return fallback;
  }

  stringList(path: string, value: unknown): string[] {
    if (value === undefined || value === null) return [];
    if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
    this.report(path, value, `${JSON.stringify(value)} is not accepted: expected a list of strings`);
    return [];
  }

  /** Settings under their annotation names without the prefix; `keep-warm` may also be a list of windows. */
  settings(path: string, value: unknown, allowed: readonly string[] | 'any'): SettingsLayer {
    const fields = this.object(path, value, allowed);
    const layer: Record<string, unknown> = {};
    for (const [name, raw] of Object.entries(fields)) {
      if (!isSettingName(name)) continue;
      const text = name === 'keep-warm' && Array.isArray(raw) && raw.every((item) => typeof item === 'string') ? raw.join('; ') : raw;
      const parsed = this.parsed(join(path, name), text, undefined, (input) => parseSetting(name, input));
      if (parsed !== undefined) layer[name] = parsed;
    }
    return layer;
  }
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function parsePolicy(text: string): PolicyResult {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, errors: [{ key: 'policy.yaml', value: text, message: `policy.yaml is not valid YAML: ${message}` }] };
  }
  const reader = new PolicyReader();
  const root = reader.object('', document, [
    'defaults',
    'namespaces',
    'excludedNamespaces',
    'sidecar',
    'defaultRequests',
    'eviction',
    'sizing',
    'dryRun',
    'resize',
  ]);
  const policy: Policy = {
    defaults: reader.settings('defaults', root.defaults, SETTING_NAMES),
    namespaces: readNamespaces(reader, root.namespaces),
    excludedNamespaces: new Set(readNamespaceNames(reader, 'excludedNamespaces', root.excludedNamespaces)),
    sidecar: readSidecar(reader, root.sidecar),
    defaultRequests: readRequests(reader, 'defaultRequests', root.defaultRequests, DEFAULT_POLICY.defaultRequests),
    eviction: readEviction(reader, root.eviction),
    sizing: parseSizing(root.sizing, (path, value, problem) => reader.report(path, value, problem)),
    resize: readResize(reader, root.resize),
    dryRun: reader.boolean('dryRun', root.dryRun, DEFAULT_POLICY.dryRun),
  };
  return reader.errors.length > 0 ? { ok: false, errors: reader.errors } : { ok: true, policy };
}

function readNamespaceNames(reader: PolicyReader, path: string, value: unknown): string[] {
  const names = reader.stringList(path, value);
  for (const [index, name] of names.entries()) {
    if (!DNS_LABEL.test(name)) reader.report(`${path}[${index}]`, name, `${JSON.stringify(name)} is not accepted: expected a namespace name`);
  }
  return names;
}

/** `enabled` belongs to `injection` in a rule: one way to opt a namespace in, not two. */
const RULE_SETTINGS = SETTING_NAMES.filter((name) => name !== 'enabled');

function readNamespaces(reader: PolicyReader, value: unknown): Map<string, NamespaceRule> {
  const rules = new Map<string, NamespaceRule>();
  for (const [namespace, ruleValue] of Object.entries(reader.object('namespaces', value, 'any'))) {
    const path = `namespaces.${namespace}`;
    if (!DNS_LABEL.test(namespace)) reader.report(path, namespace, `${JSON.stringify(namespace)} is not accepted: expected a namespace name`);
    const fields = reader.object(path, ruleValue, ['injection', ...RULE_SETTINGS]);
    const injection = reader.oneOf(`${path}.injection`, fields.injection, undefined, ['enabled', 'disabled'] as const);
    const settingsFields = Object.fromEntries(Object.entries(fields).filter(([key]) => key !== 'injection'));
    rules.set(namespace, { ...(injection ? { injection } : {}), settings: reader.settings(path, settingsFields, 'any') });
  }
  return rules;
}

function readRequests(reader: PolicyReader, path: string, value: unknown, fallback: { cpuMillis: number; memoryBytes: number }) {
  const fields = reader.object(path, value, ['cpu', 'memory']);
  return {
    cpuMillis: reader.parsed(`${path}.cpu`, fields.cpu, fallback.cpuMillis, parseCpu),
    memoryBytes: reader.parsed(`${path}.memory`, fields.memory, fallback.memoryBytes, parseMemory),
  };
}

function readSidecar(reader: PolicyReader, value: unknown): SidecarPolicy {
  const defaults = DEFAULT_POLICY.sidecar;
  const fields = reader.object('sidecar', value, ['image', 'imagePullPolicy', 'resources', 'listenPort', 'adminPort']);
  const resources = reader.object('sidecar.resources', fields.resources, ['requests', 'limits']);
  const limits = reader.object('sidecar.resources.limits', resources.limits, ['memory', 'cpu']);
  if (limits.cpu !== undefined) {
    reader.report(
      'sidecar.resources.limits.cpu',
      limits.cpu,
      'a CPU limit is not accepted: throttling the proxy delays every request; set requests.cpu instead',
    );
  }
  const image = reader.parsed('sidecar.image', fields.image, defaults.image, (text) =>
    text.trim() === '' || /\s/.test(text)
      ? { ok: false, error: `${JSON.stringify(text)} is not accepted: expected an image reference such as ${defaults.image}` }
      : { ok: true, value: text },
  );
  const port = (text: string) => parseWholeNumber(text, 1, 65535);
  const sidecar: SidecarPolicy = {
    image,
    imagePullPolicy: reader.oneOf('sidecar.imagePullPolicy', fields.imagePullPolicy, defaults.imagePullPolicy, ['Always', 'IfNotPresent', 'Never']),
    requests: readRequests(reader, 'sidecar.resources.requests', resources.requests, defaults.requests),
    memoryLimitBytes: reader.parsed('sidecar.resources.limits.memory', limits.memory, defaults.memoryLimitBytes, parseMemory),
    listenPort: reader.parsed('sidecar.listenPort', fields.listenPort, defaults.listenPort, port),
    adminPort: reader.parsed('sidecar.adminPort', fields.adminPort, defaults.adminPort, port),
  };
  if (sidecar.listenPort === sidecar.adminPort) {
    reader.report('sidecar.adminPort', sidecar.adminPort, `${sidecar.adminPort} is not accepted: it must differ from sidecar.listenPort`);
  }
  if (sidecar.memoryLimitBytes !== undefined && sidecar.memoryLimitBytes < sidecar.requests.memoryBytes) {
    const request = formatMemory(sidecar.requests.memoryBytes);
    reader.report(
      'sidecar.resources.limits.memory',
      limits.memory,
      `${JSON.stringify(limits.memory)} is not accepted: expected at least requests.memory (${request})`,
    );
  }
  return sidecar;
}

function readEviction(reader: PolicyReader, value: unknown): EvictionPolicy {
  const defaults = DEFAULT_POLICY.eviction;
  const fields = reader.object('eviction', value, ['ratePerMinute', 'windows', 'dryRun']);
  const windowsText = Array.isArray(fields.windows) ? reader.stringList('eviction.windows', fields.windows).join('; ') : fields.windows;
  return {
    ratePerMinute: reader.parsed('eviction.ratePerMinute', fields.ratePerMinute, defaults.ratePerMinute, (text) => parseWholeNumber(text, 0, 10_000)),
    windows: reader.parsed('eviction.windows', windowsText, defaults.windows, (text) => parseTimeWindows(text, (one) => parseTimeWindow(one))),
    dryRun: reader.boolean('eviction.dryRun', fields.dryRun, defaults.dryRun),
  };
}

const DEFERRED_TIMEOUT_RANGE = { min: 1_000, max: 24 * 3_600_000 };

function readResize(reader: PolicyReader, value: unknown): ResizePolicy {
  const fields = reader.object('resize', value, ['deferredTimeout']);
  const { min, max } = DEFERRED_TIMEOUT_RANGE;
  const accepted = `${DURATION_FORM}, from ${formatDuration(min)} to ${formatDuration(max)}`;
  return {
    deferredTimeoutMs: reader.parsed('resize.deferredTimeout', fields.deferredTimeout, DEFAULT_POLICY.resize.deferredTimeoutMs, (text) => {
      const parsed = parseDuration(text);
      if (!parsed.ok) return { ok: false, error: `${parsed.error}, from ${formatDuration(min)} to ${formatDuration(max)}` };
      return parsed.value >= min && parsed.value <= max ? parsed : { ok: false, error: `${JSON.stringify(text)} is not accepted: expected ${accepted}` };
    }),
  };
}
