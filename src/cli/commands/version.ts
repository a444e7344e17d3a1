// `kilnctl version`: the OS version the machine runs, its boot slots, and its
// last upgrade or rollback.
import { Command } from "commander";
import type { Version } from "../../gen/kiln/machine/v1/machine_pb.js";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf, okMessages } from "../node-messages.js";
import { renderPerNode } from "../output.js";
import { withMachine } from "../session.js";
import type { Column } from "../table.js";
import { lastUpgradeLine, type UpgradeStatusRecord, upgradeStatusRecord } from "../upgrade-view.js";

/** The JSON/YAML shape of `version`. */
export interface VersionRecord {
  node: string;
  tag: string;
  nodeVersion: string;
  arch: string;
  platform: string;
  kernel: string;
  maintenance: boolean;
  /** The running boot slot ("A", "B"; "" without a disk) and how it was booted. */
  slot: string;
  bootMode: string;
  /** Both slots of the disk and the version each holds. */
  slots: { name: string; version: string; active: boolean }[];
  /** For scripts: the running version and slot. */
  server: { version: string; slot: string };
  /** The last upgrade or rollback recorded on the machine; absent when there is none. */
  upgrade?: UpgradeStatusRecord;
}

const columns: Column<VersionRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "TAG", value: (r) => r.tag },
  { header: "NODE.JS", value: (r) => r.nodeVersion },
  { header: "ARCH", value: (r) => r.arch },
  { header: "PLATFORM", value: (r) => r.platform },
  { header: "KERNEL", value: (r) => r.kernel },
  { header: "MAINTENANCE", value: (r) => (r.maintenance ? "yes" : "no") },
  { header: "SLOT", value: (r) => (r.slot ? `${r.slot}${r.bootMode && r.bootMode !== "committed" ? ` (${r.bootMode})` : ""}` : "-") },
  { header: "SLOTS", value: (r) => r.slots.map((x) => `${x.name}=${x.version || "empty"}`).join(" ") || "-" },
];

/** The record of one node's version. */
function versionRecord(v: Version): VersionRecord {
  const { tag, nodeVersion, arch, platform, kernel, maintenance, slot, bootMode } = v;
  const slots = v.slots.map((x) => ({ name: x.name, version: x.version, active: x.active }));
  const base = { node: nodeOf(v), tag, nodeVersion, arch, platform, kernel, maintenance, slot, bootMode, slots, server: { version: tag, slot } };
  return v.upgrade ? { ...base, upgrade: upgradeStatusRecord(v.upgrade) } : base;
}

/** Under the table, each node's last upgrade: one line, prefixed by the node when several answered. */
function upgradeLines(records: VersionRecord[], fannedOut: boolean): string {
  const lines = records.filter((r) => r.upgrade).map((r) => `${fannedOut && r.node ? `${r.node}: ` : ""}${lastUpgradeLine(r.upgrade!)}\n`);
  return lines.join("");
}

/** `version`: one object (an array when several nodes answer). */
export function createVersionCommand(deps: CliDeps): Command {
  const cmd = new Command("version").description("show the version of kiln the machine runs");
  return addGlobalOptions(cmd, { connect: true }).action((_opts, c: Command) =>
    withMachine(c, deps, "getting the version", async (m) => {
      const records = okMessages((await m.client.version({}, m.call)).messages).map(versionRecord);
      const fannedOut = m.nodes.length > 1;
      m.print(renderPerNode(m.format, records, columns, fannedOut));
      if (m.format === "table") m.print(upgradeLines(records, fannedOut));
    }),
  );
}
