// `kilnctl mounts`: the machine's mounts with their sizes.
import { Command } from "commander";
import { type MountInfo, MountInfoSchema } from "../../gen/kiln/machine/v1/machine_pb.js";
import { formatBytes } from "../bytes.js";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { type MessageRow, renderMessages, rowsOf } from "../message-rows.js";
import { okMessages } from "../node-messages.js";
import { withMachine } from "../session.js";
import type { Column } from "../table.js";

type Row = MessageRow<MountInfo>;

/** A size column: "-" for filesystems without one (size 0, as /proc). */
const sized = (pick: (m: MountInfo) => bigint) => (r: Row) => (r.msg.size > 0n ? formatBytes(Number(pick(r.msg))) : "-");

const columns: Column<Row>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "SOURCE", value: (r) => r.msg.source },
  { header: "TYPE", value: (r) => r.msg.fstype },
  { header: "SIZE", value: sized((m) => m.size) },
  { header: "USED", value: sized((m) => m.size - m.available) },
  { header: "AVAIL", value: sized((m) => m.available) },
  { header: "USE%", value: (r) => (r.msg.size > 0n ? `${Math.round((100 * Number(r.msg.size - r.msg.available)) / Number(r.msg.size))}%` : "-") },
  { header: "TARGET", value: (r) => r.msg.target },
];

/** `mounts`: every mount, in mount order. */
export function createMountsCommand(deps: CliDeps): Command {
  const cmd = new Command("mounts").description("list the machine's mounts and their usage");
  return addGlobalOptions(cmd, { connect: true }).action((_o, c: Command) =>
    withMachine(c, deps, "listing mounts", async (m) => {
      const res = await m.client.mounts({}, m.call);
      m.print(renderMessages(m.format, MountInfoSchema, rowsOf(okMessages(res.messages), (list) => list.mounts), columns));
    }),
  );
}
