// `kilnctl list PATH [--depth N]` (also `ls`): files on the machine, streamed
// as table rows, JSON Lines or YAML documents. Entries the machine could not
// read are printed with their error, which is also warned on stderr.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Command } from "commander";
import type { ListResponse } from "../../gen/kiln/machine/v1/machine_pb.js";
import { formatMode } from "../bytes.js";
import { parseCount } from "../counts.js";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf } from "../node-messages.js";
import { createStreamPrinter } from "../output.js";
import { type MachineSession, withMachine } from "../session.js";
import type { Column } from "../table.js";

/** The JSON/YAML shape of one entry (one JSON object a line). */
export interface FileRecord {
  node: string;
  /** Relative to PATH; PATH itself is ".". */
  name: string;
  size: number;
  /** As ls -l shows it, e.g. "drwxr-xr-x". */
  mode: string;
  /** st_mode: type and permission bits. */
  modeBits: number;
  modified: string | null;
  isDir: boolean;
  link: string;
  error: string;
}

const columns: Column<FileRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true, width: 8 },
  { header: "MODE", value: (r) => r.mode, width: 10 },
  { header: "SIZE", value: (r) => String(r.size), width: 10 },
  { header: "MODIFIED", value: (r) => r.modified?.replace(/\.\d+Z$/, "Z") ?? "-", width: 20 },
  { header: "NAME", value: (r) => (r.link ? `${r.name} -> ${r.link}` : r.name) },
];

/** The record of one entry. */
function fileRecord(e: ListResponse): FileRecord {
  const modified = e.modified ? timestampDate(e.modified).toISOString() : null;
  return { node: nodeOf(e), name: e.name, size: Number(e.size), mode: formatMode(e.mode), modeBits: e.mode, modified, isDir: e.isDir, link: e.link, error: e.error };
}

/** --depth: a whole number, or -1 for no limit. */
function parseDepth(text: string): number {
  return text === "-1" ? -1 : parseCount("--depth", text);
}

/** `list PATH`: the path and its entries, N levels deep (default 1). */
export function createListCommand(deps: CliDeps): Command {
  const cmd = new Command("list")
    .alias("ls")
    .description("list files on the machine (admin only; never under /system/state)")
    .argument("<path>", "absolute path of a directory or file")
    .option("--depth <n>", "levels to descend; -1 for no limit", "1");
  return addGlobalOptions(cmd, { connect: true }).action((path: string, o: { depth: string }, c: Command) => {
    const maxDepth = parseDepth(o.depth);
    return withMachine(c, deps, `listing ${path}`, (m) => streamList(m, path, maxDepth));
  });
}

/** Prints each entry as it arrives. */
async function streamList(m: MachineSession, root: string, maxDepth: number): Promise<void> {
  const print = createStreamPrinter(m.format, columns);
  await m.untilInterrupted(async (signal) => {
    for await (const e of m.client.list({ root, maxDepth }, { ...m.call, signal })) {
      const r = fileRecord(e);
      m.print(print(r));
      if (r.error) m.warn(`${r.node ? `${r.node}: ` : ""}${r.name}: ${r.error}`);
    }
  });
}
