// `kilnctl read PATH`: a file on the machine. Table output (the default)
// writes its bytes as they are; JSON and YAML print one object per node with
// the content as UTF-8 text, or base64 when it is not text.
import { Command } from "commander";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf } from "../node-messages.js";
import { renderPerNode } from "../output.js";
import { type MachineSession, withMachine } from "../session.js";

/** The JSON/YAML shape of `read`. */
export interface FileContentRecord {
  node: string;
  path: string;
  /** Bytes read. */
  size: number;
  encoding: "utf-8" | "base64";
  content: string;
}

/** `read PATH`: the file's bytes. */
export function createReadCommand(deps: CliDeps): Command {
  const cmd = new Command("read")
    .description("print a file from the machine (admin only; never under /system/state)")
    .argument("<path>", "absolute path of a regular file");
  return addGlobalOptions(cmd, { connect: true }).action((path: string, _o, c: Command) =>
    withMachine(c, deps, `reading ${path}`, (m) => (m.format === "table" ? streamRaw(m, path) : printRecords(m, path))),
  );
}

/** Writes the file's chunks to stdout as they arrive. */
async function streamRaw(m: MachineSession, path: string): Promise<void> {
  await m.untilInterrupted(async (signal) => {
    for await (const res of m.client.read({ path }, { ...m.call, signal })) m.print(res.data);
  });
}

/** Collects each node's bytes and prints them as records. */
async function printRecords(m: MachineSession, path: string): Promise<void> {
  const byNode = new Map<string, Uint8Array[]>();
  for await (const res of m.client.read({ path }, m.call)) {
    const node = nodeOf(res);
    byNode.set(node, [...(byNode.get(node) ?? []), res.data]);
  }
  const records = [...byNode].map(([node, chunks]) => contentRecord(node, path, Buffer.concat(chunks)));
  if (records.length === 0) records.push(contentRecord("", path, Buffer.alloc(0)));
  m.print(renderPerNode(m.format, records, [], m.nodes.length > 1));
}

/** The record of a file's bytes: text when they are valid UTF-8, else base64. */
function contentRecord(node: string, path: string, data: Buffer): FileContentRecord {
  try {
    const content = new TextDecoder("utf-8", { fatal: true }).decode(data);
    return { node, path, size: data.length, encoding: "utf-8", content };
  } catch {
    return { node, path, size: data.length, encoding: "base64", content: data.toString("base64") };
  }
}
