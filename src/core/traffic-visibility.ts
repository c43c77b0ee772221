// Whether ebb sees a workload's traffic. ebb counts requests in the interceptor only, so a request
// that reaches the app any other way is invisible, and a workload serving only such requests would
// look idle and be put to sleep while busy. From the Deployment's pod template (what the webhook
// will see in each pod) and the Services that select it, this says what goes around the
// interceptor, naming the cause and the fix. Pure: the controller hands it what its caches hold.

import type { V1Pod, V1PodTemplateSpec, V1Service, V1ServicePort } from '@kubernetes/client-node';
import { isInjected } from './mutation.ts';
import { ADMIN_PORT_NAME, APP_PORT_NAME, LISTEN_PORT_NAME, SIDECAR_NAME } from '../protocol/sidecar.ts';
import { chooseAppPort } from './patch/sidecar.ts';
import type { TrafficSettings } from './settings.ts';

export interface TrafficInput {
  /** The Deployment's pod template. */
  template: V1PodTemplateSpec | undefined;
  /** The resolved `ebb.dev/port`. */
  traffic: TrafficSettings;
  /** The policy's `sidecar.listenPort`: a Service may target the interceptor by this number. */
  listenPort: number;
  /** The policy's `dryRun`: the webhook then only records what it would do and adds no interceptor. */
  dryRun: boolean;
  /** The Services in the workload's namespace whose selector picks the template's labels. */
  services: readonly V1Service[];
}

/** Where requests must arrive to be counted, and the app port behind it. */
interface Interception {
  /** The interceptor's port: a Service that targets this name or number is counted. */
  listen: { name: string; number: number };
  /** The app's intercepted port: a Service that targets it directly goes around the interceptor. */
  app: { name?: string; number: number };
}

/**
 * Why ebb cannot see (all of) the workload's traffic: one message per cause, each naming what
 * goes around the interceptor and how to fix it. Empty when every request is counted.
 */
export function unobservedTraffic(input: TrafficInput): readonly string[] {
  const known = input.template && answers.get(input.template);
  if (known && sameInput(known.input, input)) return known.causes;
  const causes = findUnobserved(input);
  if (input.template) answers.set(input.template, { input, causes });
  return causes;
}

/**
 * Answers, by pod template: the controller asks for every workload every tick, and the answer
 * changes only with the Deployment (whose cache hands a new template object then), the
 * settings, the policy or the Services (whose caches hand new objects when they change).
 */
const answers = new WeakMap<V1PodTemplateSpec, { input: TrafficInput; causes: readonly string[] }>();

function sameInput(before: TrafficInput, now: TrafficInput): boolean {
  return (
    before.traffic === now.traffic &&
    before.listenPort === now.listenPort &&
    before.dryRun === now.dryRun &&
    before.services.length === now.services.length &&
    before.services.every((service, i) => service === now.services[i])
  );
}

function findUnobserved(input: TrafficInput): string[] {
  const pod: V1Pod = { metadata: input.template?.metadata, spec: input.template?.spec };
  const interception = interceptionOf(pod, input);
  if (typeof interception === 'string') return [interception];
  return input.services.flatMap((service) =>
    (service.spec?.ports ?? []).flatMap((port) => {
      const bypass = bypassOf(pod, interception, port);
      return bypass === undefined ? [] : [`Service ${service.metadata?.namespace}/${service.metadata?.name} ${bypass}`];
    }),
  );
}

/** The Services (of the pods' namespace) whose selector picks pods with these labels; a Service without a selector picks none. */
export function servicesSelecting(services: readonly V1Service[], podLabels: Readonly<Record<string, string>> | undefined): V1Service[] {
  return services.filter((service) => {
    const selector = service.spec?.selector;
    if (!selector || Object.keys(selector).length === 0) return false;
    return Object.entries(selector).every(([key, value]) => podLabels?.[key] === value);
  });
}

/** The `traffic` field of `ebb.dev/status`. */
export function trafficStatus(causes: readonly string[]): string {
  return causes.length === 0 ? 'observed' : `not observed: ${causes.join('; ')}`;
}

/** The interceptor the pods will have, or why they will have none (with the fix). */
function interceptionOf(pod: V1Pod, input: TrafficInput): Interception | string {
  // The webhook leaves a pod alone that already carries ebb's sidecar or annotation (a template
  // copied from a running pod): its own sidecar, if any, is what intercepts.
  if (isInjected(pod)) return existingInterception(pod);
  if (input.dryRun) return "the policy's dryRun is on, so the webhook adds no interceptor to pods: set dryRun: false in ebb's policy (ConfigMap ebb-policy)";
  const chosen = chooseAppPort(pod, input.traffic.port);
  if (typeof chosen === 'string') return noPortToIntercept(pod, chosen);
  const { name, containerPort } = chosen.port;
  return { listen: { name: name ?? LISTEN_PORT_NAME, number: input.listenPort }, app: { name, number: containerPort } };
}

function existingInterception(pod: V1Pod): Interception | string {
  const sidecar = pod.spec?.initContainers?.find((container) => container.name === SIDECAR_NAME);
  const listen = sidecar?.ports?.find((port) => port.name !== ADMIN_PORT_NAME);
  const app = pod.spec?.containers.flatMap((container) => container.ports ?? []).find((port) => port.name === APP_PORT_NAME);
  if (listen?.name === undefined || app === undefined) {
    return 'the pod template carries ebb.dev/injected or an ebb-interceptor container, so the webhook leaves its pods as they are, and they have no working interceptor: remove those from the template';
  }
  return { listen: { name: listen.name, number: listen.containerPort }, app: { name: listen.name, number: app.containerPort } };
}

/** chooseAppPort's reason, with the fix that applies. */
function noPortToIntercept(pod: V1Pod, why: string): string {
  if (pod.spec?.hostNetwork) return `${why}: ebb cannot intercept its traffic`;
  // Some port exists, so it is ebb.dev/port that names none of them.
  if (typeof chooseAppPort(pod, undefined) !== 'string') return `${why}: set ebb.dev/port to the name or number of the port that serves HTTP`;
  // (ebb.dev/port cannot help here: it picks among the declared ports.)
  return 'no container port to intercept: add a named containerPort (e.g. http) to the container that serves HTTP';
}

/** How this Service port's traffic goes around the interceptor (after `Service ns/name`), or undefined when it does not. */
function bypassOf(pod: V1Pod, interception: Interception, port: V1ServicePort): string | undefined {
  const protocol = port.protocol ?? 'TCP';
  if (protocol !== 'TCP') {
    return `port ${port.port} is ${protocol}, which ebb's interceptor (HTTP over TCP) cannot see: opt the workload out with ebb.dev/enabled: "false" if it serves no HTTP`;
  }
  const { listen, app } = interception;
  // An absent targetPort is the Service's own port number.
  const target = port.targetPort ?? port.port;
  if (target === listen.name || target === listen.number) return undefined;
  // The webhook gives a named app port the name ebb-app, so that name reaches the app too.
  const toApp = target === app.number || (target === APP_PORT_NAME && app.name !== undefined);
  // A name no container declares selects no endpoint in the pods: that Service sends them nothing.
  if (!toApp && typeof target === 'string' && !declaresPortName(pod, target)) return undefined;
  const targeted = typeof target === 'number' ? `${target} by number` : target;
  const bypasses = `targets port ${targeted}, which bypasses ebb's interceptor`;
  const retarget =
    app.name === undefined ? `name the containerPort ${app.number} (e.g. http) and set targetPort to that name` : `set targetPort: ${listen.name}`;
  if (toApp) return `${bypasses}: ${retarget}${app.name === undefined ? '' : " (the port's name)"}`;
  return `${bypasses} (it intercepts port ${app.name ?? app.number} only): ${retarget}, or set ebb.dev/port: ${target} if that port serves the requests`;
}

function declaresPortName(pod: V1Pod, name: string): boolean {
  return (pod.spec?.containers ?? []).some((container) => (container.ports ?? []).some((port) => port.name === name));
}
