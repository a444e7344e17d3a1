// Machine events: one bounded ring, ids increase monotonically within a boot.
import type { ServiceStateName } from "./service.js";

export type EventPayload =
  | { t: "service"; id: string; state: ServiceStateName; message: string; healthy: boolean | null; healthMessage: string }
  | { t: "sequence"; sequence: string; phase: string; task: string; action: "start" | "stop"; error: string; durationMs: number }
  | { t: "config"; source: string; accepted: boolean; errors: string[]; warnings: string[]; message: string }
  | { t: "machine"; stage: "booting" | "maintenance" | "running" | "rebooting" | "shutting-down" | "upgrade"; message: string }
  | { t: "network"; kind: NetworkEventKind; link: string; address: string; source: "dhcp" | "static" | ""; message: string };

/** What happened to the machine's network (src/machined/network/). */
export type NetworkEventKind = "link-up" | "link-down" | "address-added" | "address-removed" | "lease-acquired" | "lease-renewed" | "lease-failed" | "lease-lost" | "error";

export interface MachineEvent {
  id: number;
  time: Date;
  payload: EventPayload;
}

export interface EventQuery {
  /** Last N buffered events first (0: none, negative: all). */
  tail: number;
  /** Resume after this id; 0 means unset. Takes precedence over tail. */
  sinceId: number;
  follow: boolean;
  signal?: AbortSignal;
}

export interface EventBus {
  publish(payload: EventPayload): MachineEvent;
  /** Buffered events per the query, then (follow) new ones until the signal aborts. */
  watch(query: EventQuery): AsyncIterable<MachineEvent>;
}
