// `kilnctl time`: the machine's clock and its time servers.
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
}

const columns: Column<TimeRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "SERVERS", value: (r) => r.servers.join(",") || "-" },
  { header: "LOCALTIME", value: (r) => r.localtime ?? "-" },
];

/** The record of one node's time. */
function timeRecord(t: Time): TimeRecord {
  return { node: nodeOf(t), servers: t.servers, localtime: t.localtime ? timestampDate(t.localtime).toISOString() : null };
}

/** `time`: one object (an array when several nodes answer). */
export function createTimeCommand(deps: CliDeps): Command {
  const cmd = new Command("time").description("show the machine's time and time servers");
  return addGlobalOptions(cmd, { connect: true }).action((_o, c: Command) =>
    withMachine(c, deps, "reading the time", async (m) => {
      const records = okMessages((await m.client.time({}, m.call)).messages).map(timeRecord);
      m.print(renderPerNode(m.format, records, columns, m.nodes.length > 1));
    }),
  );
}
