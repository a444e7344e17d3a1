// `kilnctl config new FILE --roles …`: asks a machine for a client
// certificate (GenerateClientConfiguration, admin only) and writes the
// kilnconfig it returns, 0600.
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Command } from "commander";
import { roles } from "../../pki/role-names.js";
import type { CliDeps } from "../deps.js";
import { clientTtlProblem } from "../../pki/client-ttl.js";
import { parseDurationFlag } from "../duration.js";
import { toCliError, usageError } from "../errors.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf, okMessages } from "../node-messages.js";
import { renderPerNode } from "../output.js";
import { withMachine } from "../session.js";
import type { Column } from "../table.js";

interface NewOptions {
  roles: string;
  crtTtl?: string;
  force?: boolean;
}

/** The JSON/YAML shape of `config new`. */
export interface NewRecord {
  node: string;
  file: string;
  roles: string[];
}

const columns: Column<NewRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "FILE", value: (r) => r.file },
  { header: "ROLES", value: (r) => r.roles.join(",") },
];

/** The roles asked for: comma-separated, each a known role. */
function parseRoles(text: string): string[] {
  const asked = text.split(",").map((r) => r.trim()).filter(Boolean);
  const unknown = asked.filter((r) => !(roles as readonly string[]).includes(r));
  if (asked.length === 0 || unknown.length) throw usageError("--roles", `expected one or more of ${roles.join(", ")}, got "${text}"`);
  return asked;
}

/** `config new`: a kilnconfig for a new client, issued by the machine. */
export function createConfigNewCommand(deps: CliDeps): Command {
  const cmd = new Command("new")
    .description("ask the machine for a client certificate with some roles and write its kilnconfig (admin only)")
    .argument("<file>", "where to write the kilnconfig (mode 0600)")
    .requiredOption("--roles <roles>", `roles of the new client, comma-separated: ${roles.join(", ")}`)
    .option("--crt-ttl <duration>", "lifetime of the client certificate, e.g. 720h (default and most: 8760h, one year)")
    .option("--force", "overwrite FILE if it exists");
  return addGlobalOptions(cmd, { connect: true }).action((file: string, o: NewOptions, c: Command) => {
    const asked = parseRoles(o.roles);
    const ttlMs = o.crtTtl === undefined ? 0 : parseDurationFlag("--crt-ttl", o.crtTtl);
    const tooLong = o.crtTtl === undefined ? undefined : clientTtlProblem(ttlMs);
    if (tooLong) throw usageError("--crt-ttl", tooLong);
    return withMachine(c, deps, "issuing a client configuration", async (m) => {
      const res = await m.client.generateClientConfiguration({ roles: asked, ...(ttlMs ? { crtTtl: durationFromMs(ttlMs) } : {}) }, m.call);
      const [first] = okMessages(res.messages);
      if (!first) return;
      const { writeSecretFile } = await import("../../pki/secret-file.js");
      await writeSecretFile(file, first.kilnconfig, { overwrite: o.force === true }).catch((err: unknown) => {
        throw toCliError(err, { what: `writing ${file}` });
      });
      m.print(renderPerNode(m.format, [{ node: nodeOf(first), file, roles: asked }], columns, false));
    });
  });
}
