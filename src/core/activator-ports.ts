// Activator ports: the controller gives each port of a sleeping Service its own port on the
// agents, from a configured range, and records it on the Service's activator EndpointSlice. The
// port is how an agent tells whose traffic a connection carries (src/core/activity/route.ts), so
// two Service ports never share one. Pure: the ports in use are passed in.

import { fail, ok, type Result } from './result.ts';

export interface PortRange {
  first: number;
  last: number;
}

/** A Service's activator ports: Service port name ('' for an unnamed port) → agent port. */
export type ServicePorts = ReadonlyMap<string, number>;

export function parsePortRange(text: string): Result<PortRange> {
  const match = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(text);
  const first = Number(match?.[1]);
  const last = Number(match?.[2]);
  if (!match || first < 1 || last > 65_535 || first > last)
    return fail(`"${text}" is not a port range: expected first-last with 1 ≤ first ≤ last ≤ 65535, e.g. 20000-29999`);
  return ok({ first, last });
}

export const formatPortRange = (range: PortRange): string => `${range.first}-${range.last}`;

export const inPortRange = (range: PortRange, port: number): boolean => port >= range.first && port <= range.last;

export interface PortRequest {
  range: PortRange;
  /** The Service's port names. */
  names: readonly string[];
  /** The ports the Service holds now (its slice, while it sleeps): each one still valid is kept. */
  current: ServicePorts | undefined;
  /** Ports held by every other sleeping Service. */
  taken: ReadonlySet<number>;
  /**
   * The last port given out. The search for a new one starts after it and wraps around, so a port
   * set free by a wake-up is given to another Service only after the rest of the range: kube-proxy
   * may still send the woken Service's traffic there for a moment, and it must not reach another.
   */
  after: number;
}

export interface PortAssignment {
  ports: Map<string, number>;
  /** The next request's `after`. */
  after: number;
}

/** A port for each name: the one it holds if still free and in range, else the next free one. */
export function assignActivatorPorts(request: PortRequest): Result<PortAssignment> {
  const { range, names, current } = request;
  const used = new Set(request.taken);
  const ports = new Map<string, number>();
  for (const name of names) {
    const held = current?.get(name);
    if (held === undefined || !inPortRange(range, held) || used.has(held)) continue;
    ports.set(name, held);
    used.add(held);
  }
  let after = request.after;
  for (const name of names) {
    if (ports.has(name)) continue;
    const port = nextFreePort(range, used, after);
    if (port === undefined)
      return fail(`no free activator port in ${formatPortRange(range)}: all ${range.last - range.first + 1} are given to sleeping Service ports`);
    ports.set(name, port);
    used.add(port);
    after = port;
  }
  return ok({ ports, after });
}

function nextFreePort(range: PortRange, used: ReadonlySet<number>, after: number): number | undefined {
  const size = range.last - range.first + 1;
  const start = inPortRange(range, after) ? after + 1 - range.first : 0;
  for (let step = 0; step < size; step += 1) {
    const port = range.first + ((start + step) % size);
    if (!used.has(port)) return port;
  }
  return undefined;
}
