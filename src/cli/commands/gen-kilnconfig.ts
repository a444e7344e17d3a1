// `kilnctl gen kilnconfig --secrets FILE --role ROLE --out FILE [--endpoint E]
// [--context NAME] [--ttl 8760h] [--force]`: a client certificate for a role,
// issued offline with the machine CA from the secrets bundle. The PKI is loaded
// only when the command runs.
import { readFile, stat } from "node:fs/promises";
import { X509Certificate } from "node:crypto";
import { Command, Option } from "commander";
import { encodeBase64Pem } from "../../pki/pem.js";
import { roles } from "../../pki/role-names.js";
import type { SecretsBundle } from "../../pki/secrets-bundle.js";
import type { CliDeps } from "../deps.js";
import { clientTtlProblem } from "../../pki/client-ttl.js";
import { parseDurationFlag } from "../duration.js";
import { parseEndpoints } from "../endpoint.js";
import { CliError, toCliError, usageError } from "../errors.js";
import { addGlobalOptions } from "../global-options.js";
import { renderOne } from "../output.js";
import { type Session, createSession } from "../session.js";
import type { Column } from "../table.js";
import { checkName, refuseExisting, writeGenFiles } from "./gen-files.js";

interface GenKilnconfigFlags {
  secrets: string;
  role: string;
  out: string;
  endpoint?: string;
  context?: string;
  ttl: string;
  force?: boolean;
}

/** The JSON/YAML shape of `gen kilnconfig`. */
export interface GenKilnconfigRecord {
  file: string;
  context: string;
  role: string;
  endpoints: string[];
  /** When the client certificate expires (ISO 8601). */
  expires: string;
}

const columns: Column<GenKilnconfigRecord>[] = [
  { header: "FILE", value: (r) => r.file },
  { header: "CONTEXT", value: (r) => r.context },
  { header: "ROLE", value: (r) => r.role },
  { header: "ENDPOINTS", value: (r) => r.endpoints.join(",") || "-" },
  { header: "EXPIRES", value: (r) => r.expires },
];

/** `gen kilnconfig`: writes a kilnconfig with one context for --role. */
export function createGenKilnconfigCommand(deps: CliDeps): Command {
  const cmd = new Command("kilnconfig")
    .description("issue a client certificate for a role, offline, into a new kilnconfig")
    .requiredOption("--secrets <file>", "secrets bundle (secrets.yaml from gen config)")
    .addOption(new Option("--role <role>", "the certificate's role").choices(roles).makeOptionMandatory())
    .requiredOption("--out <file>", "kilnconfig to write")
    .option("--endpoint <endpoints>", "apid endpoints of the context, HOST[:PORT],… (port 50000)")
    .option("--context <name>", "context name (default: the cluster's name)")
    .option("--ttl <duration>", "lifetime of the certificate, at most 8760h (one year)", "8760h")
    .option("--force", "overwrite --out");
  return addGlobalOptions(cmd, { connect: false }).action(async (f: GenKilnconfigFlags, c: Command) => {
    const s = createSession(c, deps);
    const ttlMs = parseDurationFlag("--ttl", f.ttl);
    const tooLong = clientTtlProblem(ttlMs);
    if (tooLong) throw usageError("--ttl", tooLong);
    const endpoints = f.endpoint === undefined ? [] : parseEndpoints(f.endpoint, "--endpoint").map((e) => e.text);
    await refuseExisting([f.out], f.force === true);
    const bundle = await readSecrets(s, f.secrets);
    const context = checkName("--context", f.context ?? bundle.name);
    const { issueClientCert } = await import("../../pki/certs.js");
    const client = await issueClientCert(bundle.machine.ca, { roles: [f.role], ttlMs });
    const kc = { endpoints, nodes: [], ca: encodeBase64Pem(bundle.machine.ca.crt), crt: encodeBase64Pem(client.crt), key: encodeBase64Pem(client.key) };
    const { stringifyKilnconfig } = await import("../../config/kilnconfig.js");
    const text = stringifyKilnconfig({ context, contexts: { [context]: kc } });
    await writeGenFiles([{ file: f.out, contents: "kilnconfig", text }], f.force === true);
    const expires = new Date(new X509Certificate(client.crt).validTo).toISOString();
    s.print(renderOne(s.format, { file: f.out, context, role: f.role, endpoints, expires }, columns));
  });
}

/** The secrets bundle in `file`; warns when others may read it. */
async function readSecrets(s: Session, file: string): Promise<SecretsBundle> {
  const text = await readFile(file, "utf8").catch((err: unknown) => {
    throw toCliError(err, { what: `reading ${file}` });
  });
  const { parseSecrets } = await import("../../pki/secrets-bundle.js");
  const parsed = parseSecrets(text);
  if ("errors" in parsed) throw new CliError(`secrets bundle ${file}`, parsed.errors.join("\n"));
  const mode = (await stat(file)).mode & 0o777;
  if (mode & 0o077) s.warn(`${file} holds CA keys and is readable by others (mode ${mode.toString(8).padStart(4, "0")}); chmod 600 it`);
  return parsed.value;
}
