// `kilnctl memory`: the machine's memory, from /proc/meminfo.
import { Command } from "commander";
import { type Memory, MemorySchema } from "../../gen/kiln/machine/v1/machine_pb.js";
import { formatBytes } from "../bytes.js";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { type MessageRow, renderNodeMessages } from "../message-rows.js";
import { okMessages } from "../node-messages.js";
import { withMachine } from "../session.js";
import type { Column } from "../table.js";

type Row = MessageRow<Memory>;

/** total - free - buffers - cached, as free(1) counts it. */
function used(m: Memory): bigint {
  const n = m.total - m.free - m.buffers - m.cached;
  return n > 0n ? n : 0n;
}

const size = (pick: (m: Memory) => bigint) => (r: Row) => formatBytes(Number(pick(r.msg)));
const columns: Column<Row>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "TOTAL", value: size((m) => m.total) },
  { header: "USED", value: size(used) },
  { header: "FREE", value: size((m) => m.free) },
  { header: "SHARED", value: size((m) => m.shared) },
  { header: "BUFFERS", value: size((m) => m.buffers) },
  { header: "CACHED", value: size((m) => m.cached) },
  { header: "AVAILABLE", value: size((m) => m.available) },
];

/** `memory`: one object (an array when several nodes answer). */
export function createMemoryCommand(deps: CliDeps): Command {
  const cmd = new Command("memory").description("show the machine's memory usage");
  return addGlobalOptions(cmd, { connect: true }).action((_o, c: Command) =>
    withMachine(c, deps, "reading memory", async (m) => {
      const messages = okMessages((await m.client.memory({}, m.call)).messages);
      m.print(renderNodeMessages(m.format, MemorySchema, messages, columns, m.nodes.length > 1));
    }),
  );
}
