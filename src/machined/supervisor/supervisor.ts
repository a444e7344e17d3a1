// The supervisor holds the service definitions and runs them: dependency
// order, conditions, restart policy, health checks, one cgroup each. Every
// state (and health) change is published as a {t:"service"} event.
import { refused } from "../errors.js";
import type { EventBus } from "../events.js";
import { createLogStore, type LogStore } from "../logs/log-store.js";
import type { MachineContext, ServiceDefinition, ServiceStatus } from "../service.js";
import type { BackoffOptions } from "./backoff.js";
import { cgroupsAt } from "./cgroups.js";
import { type Core, createCore, graphOf, lookup, publish } from "./core.js";
import { assertAcyclic } from "./graph.js";
import { lifecycle } from "./lifecycle.js";
import { type Active, type Entry, newEntry, state, statusOf } from "./state.js";
import { stopAll, stopEntry } from "./stop.js";

export interface SupervisorOptions {
  context: MachineContext;
  events: EventBus;
  /** Where service output goes; default: a store under context.paths.logDir. */
  logs?: LogStore;
  /** Restart backoff; default 100 ms doubling to 30 s, reset after a 10 s run. */
  backoff?: Partial<BackoffOptions>;
  /** machined's own log, told once if services must run without cgroups; default stderr. */
  log?: (line: string) => void;
}

export interface Supervisor {
  /** Adds a service (not started); throws on a duplicate id or a dependency cycle. */
  register(def: ServiceDefinition): void;
  /** Stops a service and forgets it (extension services). */
  unregister(id: string): Promise<void>;
  /** Starts every service not already started; each waits for its dependencies. */
  startAll(): Promise<void>;
  /** Starts one service (it waits for its dependencies); resolves once it is under way. */
  start(id: string): Promise<string>;
  /** TERM → grace → KILL of the whole cgroup; resolves once it has stopped. */
  stop(id: string): Promise<string>;
  restart(id: string): Promise<string>;
  /** Stops everything, dependents before their dependencies, within `graceMs` in total. */
  stopAll(graceMs?: number): Promise<void>;
  status(): ServiceStatus[];
  /** A service's buffered output (`tailLines`, negative: all), then new output when following. */
  logs(id: string, tailLines: number, follow: boolean, signal?: AbortSignal): AsyncIterable<Uint8Array>;
}

/** Creates a supervisor with no services registered. */
export function createSupervisor(opts: SupervisorOptions): Supervisor {
  const logs = opts.logs ?? createLogStore({ dir: opts.context.paths.logDir });
  cgroupsAt(opts.context.paths.cgroupRoot, opts.log);
  const c = createCore(opts.context, opts.events, logs, opts.backoff);
  return {
    register: (def) => register(c, def),
    unregister: (id) => unregister(c, id),
    startAll: async () => startAll(c),
    start: async (id) => start(c, id),
    stop: async (id) => stopEntry(c, lookup(c, id)),
    restart: (id) => restart(c, id),
    stopAll: (graceMs) => stopAll(c, graceMs),
    status: () => [...c.entries.values()].map(statusOf),
    logs: (id, tailLines, follow, signal) => logs.read({ id: lookup(c, id).def.id, tailLines, follow, signal }),
  };
}

/** Validates and adds a definition; publishes its initial state. */
function register(c: Core, def: ServiceDefinition): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(def.id)) {
    throw new TypeError(`Expected a service id of letters, digits, ".", "_" or "-", got \`${def.id}\``);
  }
  if (c.entries.has(def.id)) throw new Error(`service "${def.id}" is already registered`);
  assertAcyclic(new Map([...graphOf(c), [def.id, def.dependsOn]]));
  const e = newEntry(def);
  c.entries.set(def.id, e);
  publish(c.events, e);
}

/** Stops a service, then forgets it; its log stays readable. */
async function unregister(c: Core, id: string): Promise<void> {
  const e = lookup(c, id);
  await stopEntry(c, e);
  c.env.set(e, state("Finished", "unregistered"));
  c.entries.delete(id);
}

/** Starts every service not under way; one whose dependencies are not all registered is Failed instead. */
async function startAll(c: Core): Promise<void> {
  assertAcyclic(graphOf(c));
  for (const e of c.entries.values()) {
    await settled(e.stopping);
    const unknown = unknownDependencies(c, e);
    if (unknown) c.env.set(e, state("Failed", unknown));
    else if (!e.active) launch(c, e);
  }
}

/** Starts one service unless it is under way; its dependencies must be registered. */
async function start(c: Core, id: string): Promise<string> {
  const e = lookup(c, id);
  await settled(e.stopping);
  if (e.active) return `service ${id} is already ${e.state.t}`;
  const unknown = unknownDependencies(c, e);
  if (unknown) throw refused(`service ${id} ${unknown}`);
  launch(c, e);
  return `service ${id}: started`;
}

/** "depends on unknown service(s): x, y", or undefined when all are registered. */
function unknownDependencies(c: Core, e: Entry): string | undefined {
  const unknown = e.def.dependsOn.filter((d) => !c.entries.has(d));
  return unknown.length > 0 ? `depends on unknown service(s): ${unknown.join(", ")}` : undefined;
}

/** Stops, then starts again. */
async function restart(c: Core, id: string): Promise<string> {
  await stopEntry(c, lookup(c, id));
  return start(c, id);
}

/** Runs a new lifecycle for the entry; it forgets itself when it ends. */
function launch(c: Core, e: Entry): void {
  const a: Active = { abort: new AbortController(), done: Promise.resolve() };
  e.active = a;
  a.done = lifecycle(e, c.env, a).finally(() => {
    if (e.active === a) e.active = undefined;
  });
}

/** Waits for a promise to settle, ignoring how. */
async function settled(p: Promise<unknown> | undefined): Promise<void> {
  await p?.catch(() => {});
}
