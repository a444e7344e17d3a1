// `kilnctl mounts`: the machine's mounts with their sizes.
import { Command } from "commander";
import type { MountInfo } from "../../gen/kiln/machine/v1/machine_pb.js";
import { formatBytes } from "../bytes.js";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf, okMessages } from "../node-messages.js";
import { renderList } from "../output.js";
import { withMachine } from "../session.js";
import type { Column } from "../table.js";

/** The JSON/YAML shape of one mount (`mounts -o json` prints an array). */
export interface MountRecord {
  node: string;
  source: string;
  target: string;
  fstype: string;
  options: string;
  /** Bytes; 0 when the machine could not statfs it (or it has no size, as /proc). */
  size: number;
  available: number;
}

/** A size column: "-" for filesystems without one. */
const sized = (pick: (r: MountRecord) => number) => (r: MountRecord) => (r.size > 0 ? formatBytes(pick(r)) : "-");

const columns: Column<MountRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "SOURCE", value: (r) => r.source },
  { header: "TYPE", value: (r) => r.fstype },
  { header: "SIZE", value: sized((r) => r.size) },
  { header: "USED", value: sized((r) => r.size - r.available) },
  { header: "AVAIL", value: sized((r) => r.available) },
  { header: "USE%", value: (r) => (r.size > 0 ? `${Math.round((100 * (r.size - r.available)) / r.size)}%` : "-") },
  { header: "TARGET", value: (r) => r.target },
];

/** The record of one mount reported by `node`. */
function mountRecord(node: string, m: MountInfo): MountRecord {
  return { node, source: m.source, target: m.target, fstype: m.fstype, options: m.options, size: Number(m.size), available: Number(m.available) };
}

/** `mounts`: every mount, in mount order. */
export function createMountsCommand(deps: CliDeps): Command {
  const cmd = new Command("mounts").description("list the machine's mounts and their usage");
  return addGlobalOptions(cmd, { connect: true }).action((_o, c: Command) =>
    withMachine(c, deps, "listing mounts", async (m) => {
      const res = await m.client.mounts({}, m.call);
      m.print(renderList(m.format, okMessages(res.messages).flatMap((list) => list.mounts.map((x) => mountRecord(nodeOf(list), x))), columns));
    }),
  );
}
