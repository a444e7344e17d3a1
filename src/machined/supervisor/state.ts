// A service's state as a discriminated union, and the record the supervisor
// keeps per service.
import type { ServiceDefinition, ServiceStateName, ServiceStatus } from "../service.js";
import { type HealthState, unknownHealth } from "../health/health-loop.js";
import type { RestartLoop } from "./restart.js";

export type ServiceState =
  | { t: "Running"; pid: number; message: string }
  | { t: Exclude<ServiceStateName, "Running">; message: string };

/** Any state but Running. */
export function state(t: Exclude<ServiceStateName, "Running">, message: string): ServiceState {
  return { t, message };
}

/** Running as `pid`. */
export function running(pid: number, message: string): ServiceState {
  return { t: "Running", pid, message };
}

/** One start of a service, from start() until it ends or is stopped. */
export interface Active {
  abort: AbortController;
  loop?: RestartLoop;
  /** Stops the current process's health loop. */
  health?: AbortController;
  done: Promise<void>;
}

/** What the supervisor keeps per registered service. */
export interface Entry {
  def: ServiceDefinition;
  state: ServiceState;
  since: Date;
  health: HealthState;
  restarts: number;
  active?: Active;
  /** A stop under way, shared by concurrent callers. */
  stopping?: Promise<string>;
}

/** A freshly registered service. */
export function newEntry(def: ServiceDefinition): Entry {
  return { def, state: state("Finished", "not started"), since: new Date(), health: unknownHealth(), restarts: 0 };
}

/** The entry as the API reports it. */
export function statusOf(e: Entry): ServiceStatus {
  return {
    id: e.def.id,
    state: e.state.t,
    message: e.state.message,
    healthy: e.health.healthy,
    healthMessage: e.health.message,
    healthChangedAt: e.health.changedAt,
    pid: e.state.t === "Running" ? e.state.pid : 0,
    restarts: e.restarts,
    dependsOn: [...e.def.dependsOn],
    since: e.since,
  };
}
