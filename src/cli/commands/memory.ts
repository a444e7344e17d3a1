// `kilnctl memory`: the machine's memory, from /proc/meminfo.
import { Command } from "commander";
import type { Memory } from "../../gen/kiln/machine/v1/machine_pb.js";
import { formatBytes } from "../bytes.js";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf, okMessages } from "../node-messages.js";
import { renderPerNode } from "../output.js";
import { withMachine } from "../session.js";
import type { Column } from "../table.js";

/** The JSON/YAML shape of `memory`: bytes. */
export interface MemoryRecord {
  node: string;
  total: number;
  /** total - free - buffers - cached, as free(1) counts it. */
  used: number;
  free: number;
  available: number;
  buffers: number;
  cached: number;
  shared: number;
  swapTotal: number;
  swapFree: number;
}

const size = (pick: (r: MemoryRecord) => number) => (r: MemoryRecord) => formatBytes(pick(r));
const columns: Column<MemoryRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "TOTAL", value: size((r) => r.total) },
  { header: "USED", value: size((r) => r.used) },
  { header: "FREE", value: size((r) => r.free) },
  { header: "SHARED", value: size((r) => r.shared) },
  { header: "BUFFERS", value: size((r) => r.buffers) },
  { header: "CACHED", value: size((r) => r.cached) },
  { header: "AVAILABLE", value: size((r) => r.available) },
];

/** The record of one node's memory. */
function memoryRecord(m: Memory): MemoryRecord {
  const [total, free, buffers, cached] = [m.total, m.free, m.buffers, m.cached].map(Number) as [number, number, number, number];
  const rest = { available: Number(m.available), shared: Number(m.shared), swapTotal: Number(m.swapTotal), swapFree: Number(m.swapFree) };
  return { node: nodeOf(m), total, used: Math.max(0, total - free - buffers - cached), free, buffers, cached, ...rest };
}

/** `memory`: one object (an array when several nodes answer). */
export function createMemoryCommand(deps: CliDeps): Command {
  const cmd = new Command("memory").description("show the machine's memory usage");
  return addGlobalOptions(cmd, { connect: true }).action((_o, c: Command) =>
    withMachine(c, deps, "reading memory", async (m) => {
      const records = okMessages((await m.client.memory({}, m.call)).messages).map(memoryRecord);
      m.print(renderPerNode(m.format, records, columns, m.nodes.length > 1));
    }),
  );
}
