// Services as kilnctl prints them: one record a service.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type ServiceInfo, ServiceStateSchema } from "../gen/kiln/machine/v1/machine_pb.js";
import { formatDuration } from "./duration.js";
import { titleName } from "./enum-names.js";
import type { Column } from "./table.js";

/** The JSON/YAML shape of a service (`services -o json` prints an array of these). */
export interface ServiceRecord {
  node: string;
  id: string;
  /** "Waiting", "Preparing", "Running", "Stopping", "Finished", "Failed", "Skipped". */
  state: string;
  /** null: no health check, or none has completed yet. */
  healthy: boolean | null;
  healthMessage: string;
  message: string;
  pid: number;
  restarts: number;
  dependsOn: string[];
  /** When it entered this state (ISO 8601). */
  since: string | null;
}

/** The record of one service reported by `node`. */
export function serviceRecord(node: string, s: ServiceInfo): ServiceRecord {
  return {
    node,
    id: s.id,
    state: titleName(ServiceStateSchema, s.state),
    healthy: !s.health || s.health.unknown ? null : s.health.healthy,
    healthMessage: s.health?.lastMessage ?? "",
    message: s.message,
    pid: s.pid,
    restarts: s.restarts,
    dependsOn: s.dependsOn,
    since: s.since ? timestampDate(s.since).toISOString() : null,
  };
}

/** Table columns for services; AGE is time since the last state change. */
export function serviceColumns(now: Date): Column<ServiceRecord>[] {
  return [
    { header: "NODE", value: (r) => r.node, optional: true },
    { header: "SERVICE", value: (r) => r.id },
    { header: "STATE", value: (r) => r.state },
    { header: "HEALTH", value: (r) => (r.healthy === null ? "?" : r.healthy ? "OK" : "FAIL") },
    { header: "PID", value: (r) => (r.pid > 0 ? String(r.pid) : "-") },
    { header: "RESTARTS", value: (r) => String(r.restarts) },
    { header: "AGE", value: (r) => (r.since ? formatDuration(now.getTime() - Date.parse(r.since)) : "-") },
    { header: "MESSAGE", value: (r) => r.message },
  ];
}
