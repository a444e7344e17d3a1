// Machine events as kilnctl prints them: a record with the payload under its
// type's key, and a one-line summary for tables.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  type EventsResponse,
  MachineEvent_StageSchema,
  NetworkEvent_KindSchema,
  SequenceEvent_ActionSchema,
  ServiceStateSchema,
} from "../gen/kiln/machine/v1/machine_pb.js";
import { kebabName, titleName } from "./enum-names.js";
import { nodeOf } from "./node-messages.js";
import type { Column } from "./table.js";

export interface ServicePayload { id: string; state: string; message: string; healthy: boolean | null; healthMessage: string }
export interface SequencePayload { sequence: string; phase: string; task: string; action: string; error: string; durationMs: number }
export interface ConfigPayload { source: string; accepted: boolean; errors: string[]; warnings: string[]; message: string }
export interface MachinePayload { stage: string; message: string }
export interface NetworkPayload { kind: string; link: string; address: string; source: string; message: string }

/** The JSON/YAML shape of an event; exactly one payload key is set, named by `type`. */
export interface EventRecord {
  node: string;
  id: number;
  time: string | null;
  type: "service" | "sequence" | "config" | "machine" | "network" | "unknown";
  service?: ServicePayload;
  sequence?: SequencePayload;
  config?: ConfigPayload;
  machine?: MachinePayload;
  network?: NetworkPayload;
}

/** The record of one event. */
export function eventRecord(e: EventsResponse): EventRecord {
  const base = { node: nodeOf(e), id: Number(e.id), time: e.time ? timestampDate(e.time).toISOString() : null };
  const p = e.payload;
  switch (p.case) {
    case "service": {
      const h = p.value.health;
      const healthy = !h || h.unknown ? null : h.healthy;
      const state = titleName(ServiceStateSchema, p.value.state);
      return { ...base, type: "service", service: { id: p.value.id, state, message: p.value.message, healthy, healthMessage: h?.lastMessage ?? "" } };
    }
    case "sequence":
      return { ...base, type: "sequence", sequence: { ...pick(p.value, "sequence", "phase", "task", "error", "durationMs"), action: kebabName(SequenceEvent_ActionSchema, p.value.action) } };
    case "config":
      return { ...base, type: "config", config: pick(p.value, "source", "accepted", "errors", "warnings", "message") };
    case "machine":
      return { ...base, type: "machine", machine: { stage: kebabName(MachineEvent_StageSchema, p.value.stage), message: p.value.message } };
    case "network":
      return { ...base, type: "network", network: { ...pick(p.value, "link", "address", "source", "message"), kind: kebabName(NetworkEvent_KindSchema, p.value.kind) } };
    default:
      return { ...base, type: "unknown" };
  }
}

/** Only the named fields of a message, as a plain object. */
function pick<T, K extends keyof T>(value: T, ...keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, value[k]])) as Pick<T, K>;
}

/** One line saying what happened. */
export function eventSummary(r: EventRecord): string {
  if (r.service) return serviceSummary(r.service);
  if (r.sequence) return sequenceSummary(r.sequence);
  if (r.config) return configSummary(r.config);
  if (r.machine) return `${r.machine.stage}${r.machine.message ? `: ${r.machine.message}` : ""}`;
  if (r.network) return `${r.network.link ? `${r.network.link}: ` : ""}${r.network.kind}${r.network.message ? `: ${r.network.message}` : ""}`;
  return "";
}

/** e.g. "containerd: Running (healthy): started". */
function serviceSummary(s: ServicePayload): string {
  const health = s.healthy === null ? "" : s.healthy ? " (healthy)" : ` (unhealthy${s.healthMessage ? `: ${s.healthMessage}` : ""})`;
  return `${s.id}: ${s.state}${health}${s.message ? `: ${s.message}` : ""}`;
}

/** e.g. "boot/config/loadConfig start", "boot stop (2.31 s)" or "boot stop: failed: …". */
function sequenceSummary(s: SequencePayload): string {
  const path = [s.sequence, s.phase, s.task].filter(Boolean).join("/");
  const took = s.action === "stop" ? ` (${(s.durationMs / 1000).toFixed(2)} s)` : "";
  return `${path} ${s.action}${took}${s.error ? `: failed: ${s.error}` : ""}`;
}

/** e.g. "from api: accepted" or "from cmdline: rejected: a; b". */
function configSummary(c: ConfigPayload): string {
  const verdict = c.accepted ? "accepted" : `rejected${c.errors.length ? `: ${c.errors.join("; ")}` : ""}`;
  return `from ${c.source}: ${verdict}${c.message ? ` (${c.message})` : ""}`;
}

/** Table columns for streamed events; widths are fixed so rows align as they arrive. */
export const eventColumns: Column<EventRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true, width: 12 },
  { header: "ID", value: (r) => String(r.id), width: 5 },
  { header: "TIME", value: (r) => (r.time ? `${r.time.slice(0, 19)}Z` : "-"), width: 20 },
  { header: "TYPE", value: (r) => r.type, width: 8 },
  { header: "EVENT", value: eventSummary },
];
