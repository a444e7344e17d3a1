// What callers below os:admin must not see: whatever may hold a secret
// (reader-fields.ts declares every field a reader can receive). apid decodes
// only the answers holding such fields, redacts them, and fails closed (no
// config at all) when a config cannot be redacted.
import { createHash } from "node:crypto";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { parse, stringify } from "yaml";
import type { MachineConfig } from "../config/schema.js";
import { redactConfig, redacted } from "../config/secrets.js";
import { EventsResponseSchema, GetConfigurationResponseSchema, MachineService, ProcessesResponseSchema } from "../gen/kiln/machine/v1/machine_pb.js";
import { methodPath } from "./authorization.js";

/** Rewrites a raw response for a caller who may not see secrets. */
export type ResponseFilter = (response: Buffer) => Buffer;

/** Filters per RPC, applied to every answer below os:admin (fanned-out ones included). */
export const redactions: ReadonlyMap<string, ResponseFilter> = new Map([
  [methodPath(MachineService, "GetConfiguration"), redactConfigurationResponse],
  [methodPath(MachineService, "Processes"), redactProcessesResponse],
  [methodPath(MachineService, "Events"), redactEventsResponse],
]);

/** A ProcessesResponse without command lines (they may carry passwords); the executable and command name stay. */
export function redactProcessesResponse(response: Buffer): Buffer {
  const res = fromBinary(ProcessesResponseSchema, response);
  for (const m of res.messages) for (const p of m.processes) if (p.args) p.args = redacted;
  return Buffer.from(toBinary(ProcessesResponseSchema, res));
}

/** An event whose config errors and warnings keep the path they name (up to the first ": ") and nothing of the value. */
export function redactEventsResponse(response: Buffer): Buffer {
  const e = fromBinary(EventsResponseSchema, response);
  if (e.payload.case !== "config") return response;
  e.payload.value.errors = e.payload.value.errors.map(pathOnly);
  e.payload.value.warnings = e.payload.value.warnings.map(pathOnly);
  return Buffer.from(toBinary(EventsResponseSchema, e));
}

/** "machine.hostname: expected …, got "x"" → "machine.hostname: ******". */
function pathOnly(line: string): string {
  const at = line.indexOf(": ");
  return at > 0 ? `${line.slice(0, at)}: ${redacted}` : redacted;
}

/** A GetConfigurationResponse with every secret of every node's config replaced. */
export function redactConfigurationResponse(response: Buffer): Buffer {
  const res = fromBinary(GetConfigurationResponseSchema, response);
  for (const m of res.messages) {
    if (m.data.length === 0) continue;
    const redacted = redactYaml(m.data);
    m.data = "value" in redacted ? redacted.value : new Uint8Array();
    if ("error" in redacted && m.metadata) m.metadata.error ||= redacted.error;
  }
  return Buffer.from(toBinary(GetConfigurationResponseSchema, res));
}

type Redacted = { value: Uint8Array } | { error: string };

/**
 * Configs redacted lately, by the sha256 of their bytes: parsing and writing a
 * 256 KiB config costs apid's loop up to a few hundred ms, and a config changes
 * rarely while readers may ask for it in a loop. A few entries, for fan-out.
 */
const recent = new Map<string, Redacted>();
const RECENT_MAX = 8;

/** A machine config (YAML bytes) with its secrets replaced, or why it could not be read. */
export function redactYaml(data: Uint8Array): Redacted {
  const key = createHash("sha256").update(data).digest("hex");
  const hit = recent.get(key);
  if (hit) {
    recent.delete(key);
    recent.set(key, hit);
    return hit;
  }
  const out = redactYamlNow(data);
  recent.set(key, out);
  if (recent.size > RECENT_MAX) recent.delete(recent.keys().next().value as string);
  return out;
}

function redactYamlNow(data: Uint8Array): Redacted {
  let doc: unknown;
  try {
    doc = parse(Buffer.from(data).toString("utf8"));
  } catch (err) {
    return { error: `the machine config could not be redacted: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (typeof doc !== "object" || doc === null) return { error: "the machine config could not be redacted: not a YAML mapping" };
  return { value: new TextEncoder().encode(stringify(redactConfig(doc as MachineConfig), { lineWidth: 0 })) };
}
