// apid started ahead of its first start (machined's prespawn): its node and
// bundle load first, then it reads its arguments from stdin, one JSON array
// of strings on one line. stdin closed without a line means machined did not
// need it after all.
import type { Readable } from "node:stream";
import { apidArgsOnStdin as argsOnStdinFlag } from "../machinery/apid.js";

/** At most this much is read for the line. */
const maxBytes = 64 * 1024;

/** The arguments from `input`'s first line; undefined when it ends without one; throws on anything but an array of strings. */
export async function argsFromStdin(input: Readable): Promise<string[] | undefined> {
  let text = "";
  for await (const chunk of input) {
    text += String(chunk);
    const nl = text.indexOf("\n");
    if (nl >= 0) return parseArgs(text.slice(0, nl));
    if (text.length > maxBytes) throw new Error(`${argsOnStdinFlag}: no newline in the first ${maxBytes} bytes of stdin`);
  }
  return undefined;
}

function parseArgs(line: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new Error(`${argsOnStdinFlag}: stdin's line is not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(value) || !value.every((a) => typeof a === "string")) throw new Error(`${argsOnStdinFlag}: stdin's line must be a JSON array of strings`);
  return value;
}
