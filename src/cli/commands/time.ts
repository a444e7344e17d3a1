// `kilnctl time`: the machine's clock, its time servers and the time sync's state.
import type { Duration } from "@bufbuild/protobuf/wkt";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Command } from "commander";
import type { Time } from "../../gen/kiln/machine/v1/machine_pb.js";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf, okMessages } from "../node-messages.js";
import { renderPerNode } from "../output.js";
import { withMachine } from "../session.js";
import type { Column } from "../table.js";

/** The JSON/YAML shape of `time`. */
export interface TimeRecord {
  node: string;
  /** machine.time.servers from its config. */
  servers: string[];
  /** The machine's clock when it answered (ISO 8601). */
  localtime: string | null;
  /** "disabled" (no servers), "unsynchronized", "synchronized". */
  state: string;
  /** The server of the last good sample, as configured ("" before one), and its address. */
  server: string;
  serverAddress: string;
  /** The server's clock minus the machine's at that sample, before correcting it (ms; null before one). */
  offsetMs: number | null;
  /** The round trip of that sample (ms). */
  delayMs: number | null;
  stratum: number | null;
  /** When that sample was taken (ISO 8601). */
  lastSync: string | null;
  /** How it corrected the clock: "step", "slew", "none" (observing only), "" before one. */
  correction: string;
  /** Seconds until the next round. */
  pollSeconds: number;
  /** Why the last round failed; "" after a good one. */
  lastError: string;
}

const columns: Column<TimeRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "SERVERS", value: (r) => r.servers.join(",") || "-" },
  { header: "STATE", value: (r) => r.state || "-" },
  { header: "SERVER", value: (r) => r.server || "-" },
  { header: "OFFSET", value: (r) => (r.offsetMs === null ? "-" : offsetText(r.offsetMs)) },
  { header: "LAST-SYNC", value: (r) => r.lastSync ?? "-" },
  { header: "LOCALTIME", value: (r) => r.localtime ?? "-" },
];

/** An offset for the table: "+1.250ms" under a second, "-31536000.123s" above. */
function offsetText(ms: number): string {
  const sign = ms < 0 ? "-" : "+";
  const abs = Math.abs(ms);
  return abs < 1000 ? `${sign}${abs.toFixed(3)}ms` : `${sign}${(abs / 1000).toFixed(3)}s`;
}

/** A Duration in ms to the microsecond; null when unset. */
function msOf(d: Duration | undefined): number | null {
  return d ? Math.round(Number(d.seconds) * 1e6 + d.nanos / 1e3) / 1e3 : null;
}

/** The record of one node's time. */
function timeRecord(t: Time): TimeRecord {
  const iso = (ts: Time["localtime"]) => (ts ? timestampDate(ts).toISOString() : null);
  const synced = t.offset !== undefined;
  return {
    node: nodeOf(t),
    servers: t.servers,
    localtime: iso(t.localtime),
    state: t.syncState,
    server: t.server,
    serverAddress: t.serverAddress,
    offsetMs: msOf(t.offset),
    delayMs: msOf(t.delay),
    stratum: synced ? t.stratum : null,
    lastSync: iso(t.lastSync),
    correction: t.correction,
    pollSeconds: (msOf(t.pollInterval) ?? 0) / 1000,
    lastError: t.lastError,
  };
}

/** `time`: one object (an array when several nodes answer). */
export function createTimeCommand(deps: CliDeps): Command {
  const cmd = new Command("time").description("show the machine's time, its time servers and whether it is synchronized");
  return addGlobalOptions(cmd, { connect: true }).action((_o, c: Command) =>
    withMachine(c, deps, "reading the time", async (m) => {
      const records = okMessages((await m.client.time({}, m.call)).messages).map(timeRecord);
      m.print(renderPerNode(m.format, records, columns, m.nodes.length > 1));
    }),
  );
}
