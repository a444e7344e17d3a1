// What a supervisor's functions share: its entries, and how a change is
// published (an event) and noticed (by lifecycles waiting for dependencies).
import { notFound, quote } from "../errors.js";
import type { EventBus } from "../events.js";
import type { HealthState } from "../health/health-loop.js";
import type { LogSinks } from "../logs/log-store.js";
import type { MachineContext } from "../service.js";
import { type BackoffOptions, defaultBackoff } from "./backoff.js";
import type { LifecycleEnv } from "./lifecycle.js";
import type { Entry, ServiceState } from "./state.js";

export interface Core {
  entries: Map<string, Entry>;
  env: LifecycleEnv;
  events: EventBus;
}

/** A core with no entries. */
export function createCore(m: MachineContext, events: EventBus, logs: LogSinks, backoff: Partial<BackoffOptions> = {}): Core {
  const entries = new Map<string, Entry>();
  return { entries, events, env: lifecycleEnv(m, events, entries, logs, { ...defaultBackoff, ...backoff }) };
}

/** State changes publish an event and wake whoever waits for a change. */
function lifecycleEnv(m: MachineContext, events: EventBus, entries: Map<string, Entry>, logs: LogSinks, backoff: BackoffOptions): LifecycleEnv {
  const wakers = new Set<() => void>();
  const changed = (e: Entry) => {
    publish(events, e);
    for (const wake of [...wakers]) wake();
  };
  return {
    m,
    backoff,
    sink: (id) => logs.sink(id),
    set(e: Entry, s: ServiceState) {
      e.state = s;
      e.since = new Date();
      changed(e);
    },
    setHealth(e: Entry, h: HealthState) {
      e.health = h;
      changed(e);
    },
    lookup: (id) => entries.get(id),
    changed: (signal) => nextChange(wakers, signal),
  };
}

/** Publishes a service's current state and health. */
export function publish(events: EventBus, e: Entry): void {
  const { healthy, message: healthMessage } = e.health;
  events.publish({ t: "service", id: e.def.id, state: e.state.t, message: e.state.message, healthy, healthMessage });
}

/** Resolves true on the next change, false when the signal aborts first. */
function nextChange(wakers: Set<() => void>, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const done = (value: boolean) => {
      wakers.delete(wake);
      signal.removeEventListener("abort", abort);
      resolve(value);
    };
    const wake = () => done(true);
    const abort = () => done(false);
    wakers.add(wake);
    signal.addEventListener("abort", abort, { once: true });
  });
}

/** The entry for `id`, or not-found naming the services there are. */
export function lookup(c: Core, id: string): Entry {
  const e = c.entries.get(id);
  if (e) return e;
  throw notFound(`unknown service ${quote(id)} (registered: ${[...c.entries.keys()].join(", ") || "none"})`);
}

/** The dependency graph of the registered services. */
export function graphOf(c: Core): Map<string, readonly string[]> {
  return new Map([...c.entries].map(([id, e]) => [id, e.def.dependsOn]));
}

