// The kilnconfig file: named contexts, each with the endpoints kilnctl dials,
// the nodes it targets, and the CA, client certificate and key of mTLS (base64
// PEM, as gen config writes them); `context` names the current one.
// kilnctl loads this module on first use (zod is not needed to start).
import { parse, stringify } from "yaml";
import { z } from "zod";
import { certificatePem, privateKeyPem } from "./formats.js";
import { humanize } from "./issues.js";

/** One context, as the file holds it. */
export interface KilnContext {
  endpoints: string[];
  nodes: string[];
  /** base64 PEM: the machine CA, the client certificate and its key. */
  ca?: string;
  crt?: string;
  key?: string;
}

export interface KilnConfig {
  /** The current context ("" when none). */
  context: string;
  contexts: Record<string, KilnContext>;
}

const contextSchema = z.strictObject({
  endpoints: z.array(z.string().min(1)).default([]),
  nodes: z.array(z.string().min(1)).default([]),
  ca: certificatePem.optional(),
  crt: certificatePem.optional(),
  key: privateKeyPem.optional(),
});

const kilnconfigSchema = z.strictObject({
  context: z.string().default(""),
  contexts: z.record(z.string().min(1), contextSchema).default({}),
});

/** Parses kilnconfig text, reporting every problem with its path. */
export function parseKilnconfig(text: string): { value: KilnConfig } | { errors: string[] } {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    return { errors: [`YAML syntax error: ${(err as Error).message.split("\n")[0]}`] };
  }
  const result = kilnconfigSchema.safeParse(doc ?? {}, { reportInput: true });
  if (!result.success) return { errors: humanize(result.error.issues, kilnconfigSchema) };
  const { context, contexts } = result.data;
  if (context !== "" && !(context in contexts)) return { errors: [`context: "${context}" is not one of the contexts (${contextList(result.data)})`] };
  return { value: result.data };
}

/** The kilnconfig as YAML; empty optional fields are left out. */
export function stringifyKilnconfig(c: KilnConfig): string {
  return stringify(c, { lineWidth: 0 });
}

/** The context names, comma-separated, or "none". */
export function contextList(c: KilnConfig): string {
  const names = Object.keys(c.contexts);
  return names.length > 0 ? names.join(", ") : "none";
}
