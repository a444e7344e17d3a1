// `kilnctl gen config --name NAME --endpoint HOST[:PORT] [--out DIR] [--force]`:
// a new cluster's secrets bundle, control plane, worker and standalone
// machine configs, and an admin kilnconfig, all mode 0600. The PKI (and its X.509 library) is
// loaded only when the command runs, to keep kilnctl's start fast.
import { join } from "node:path";
import { Command } from "commander";
import type { MachineConfigInput } from "../../config/schema.js";
import { type ConfigKind, machineConfigFor } from "../../pki/machine-configs.js";
import { encodeBase64Pem } from "../../pki/pem.js";
import type { SecretsBundle } from "../../pki/secrets-bundle.js";
import type { CliDeps } from "../deps.js";
import { type Endpoint, parseEndpoints } from "../endpoint.js";
import { CliError, usageError } from "../errors.js";
import { addGlobalOptions } from "../global-options.js";
import { renderList } from "../output.js";
import { createSession } from "../session.js";
import { checkName, type GenFile, genFileColumns, refuseExisting, writeGenFiles } from "./gen-files.js";

interface GenConfigFlags {
  name: string;
  endpoint: string;
  out: string;
  force?: boolean;
}

/** `gen config`: writes secrets.yaml, controlplane.yaml, worker.yaml, standalone.yaml and kilnconfig into --out. */
export function createGenConfigCommand(deps: CliDeps): Command {
  const cmd = new Command("config")
    .description("generate a new cluster: secrets, machine configs and an admin kilnconfig")
    .requiredOption("--name <name>", "cluster name, also the kilnconfig context's")
    .requiredOption("--endpoint <host[:port]>", "the control plane: apid at HOST:PORT (port 50000), Kubernetes at https://HOST:6443")
    .option("--out <dir>", "directory to write into", ".")
    .option("--force", "overwrite existing files");
  return addGlobalOptions(cmd, { connect: false }).action(async (f: GenConfigFlags, c: Command) => {
    const s = createSession(c, deps);
    const name = checkName("--name", f.name);
    const endpoint = controlPlaneEndpoint(f.endpoint);
    const paths = ["secrets.yaml", "controlplane.yaml", "worker.yaml", "standalone.yaml", "kilnconfig"].map((file) => join(f.out, file));
    await refuseExisting(paths, f.force === true);
    const { generateSecrets } = await import("../../pki/secrets-bundle.js");
    const files = await genFiles(await generateSecrets(name), endpoint, paths);
    s.print(renderList(s.format, await writeGenFiles(files, f.force === true), genFileColumns));
  });
}

/** The one TCP endpoint --endpoint names. */
function controlPlaneEndpoint(text: string): Endpoint & { t: "tcp" } {
  const endpoints = parseEndpoints(text, "--endpoint");
  const [e] = endpoints;
  if (endpoints.length === 1 && e?.t === "tcp") return e;
  throw usageError("--endpoint", `expected one HOST[:PORT] such as 10.0.0.10 or cp.example.com:50000, got "${text}"`);
}

/** The five files' paths, descriptions and text, in the order of `paths`. */
async function genFiles(b: SecretsBundle, endpoint: Endpoint & { t: "tcp" }, paths: string[]): Promise<GenFile[]> {
  const { stringifySecrets } = await import("../../pki/secrets-bundle.js");
  const [secrets, cp, worker, standalone, kilnconfig] = paths as [string, string, string, string, string];
  return [
    { file: secrets, contents: "secrets bundle: machine and Kubernetes CAs, tokens", text: stringifySecrets(b) },
    { file: cp, contents: "machine config for control plane machines", text: await machineConfigText(b, "controlplane", endpoint.host) },
    { file: worker, contents: "machine config for worker machines (apid's certificate from a control plane)", text: await machineConfigText(b, "worker", endpoint.host) },
    { file: standalone, contents: "machine config for a single machine with no control plane (holds the machine CA's key)", text: await machineConfigText(b, "standalone", endpoint.host) },
    { file: kilnconfig, contents: `kilnconfig, context "${b.name}", role os:admin`, text: await adminKilnconfig(b, endpoint) },
  ];
}

/** A machine config's YAML, validated as machined will validate it before it is written. */
async function machineConfigText(b: SecretsBundle, type: ConfigKind, host: string): Promise<string> {
  const { parseConfig, validateConfig } = await import("../../config/parse.js");
  const { stringifyConfig } = await import("../../config/stringify.js");
  const built = validateConfig(machineConfigFor(b, type, host) satisfies MachineConfigInput);
  if ("errors" in built) throw new CliError(`generating ${type}.yaml`, built.errors.join("\n"));
  const what = type === "standalone" ? "a standalone machine (a worker that signs its own API certificate)" : `${type} machines`;
  const header = `# kiln machine config for ${what} of cluster "${b.name}". It holds keys and tokens: keep it private.\n`;
  const text = header + stringifyConfig(built.config);
  const check = parseConfig(text);
  if ("errors" in check) throw new CliError(`generating ${type}.yaml`, check.errors.join("\n"));
  return text;
}

/** A kilnconfig whose one context reaches `endpoint` as os:admin. */
async function adminKilnconfig(b: SecretsBundle, endpoint: Endpoint): Promise<string> {
  const { issueClientCert } = await import("../../pki/certs.js");
  const { stringifyKilnconfig } = await import("../../config/kilnconfig.js");
  const client = await issueClientCert(b.machine.ca, { roles: ["os:admin"] });
  const context = { endpoints: [endpoint.text], nodes: [], ca: encodeBase64Pem(b.machine.ca.crt), crt: encodeBase64Pem(client.crt), key: encodeBase64Pem(client.key) };
  return stringifyKilnconfig({ context: b.name, contexts: { [b.name]: context } });
}
