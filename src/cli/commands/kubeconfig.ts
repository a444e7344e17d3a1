// `kilnctl kubeconfig [PATH]`: asks a control-plane node for a short-lived
// admin kubeconfig (Kubeconfig, admin only) and merges it into PATH (default:
// the first entry of $KUBECONFIG, else ~/.kube/config), making its context
// current; `-` prints it instead.
import { durationFromMs, timestampDate } from "@bufbuild/protobuf/wkt";
import { Command } from "commander";
import { parse } from "yaml";
import { clientTtlProblem } from "../../pki/client-ttl.js";
import type { CliDeps } from "../deps.js";
import { parseDurationFlag } from "../duration.js";
import { usageError } from "../errors.js";
import { addGlobalOptions } from "../global-options.js";
import { locateKubeconfig, writeKubeconfig } from "../kubeconfig-file.js";
import { nodeOf, okMessages } from "../node-messages.js";
import { renderOne } from "../output.js";
import { withMachine } from "../session.js";
import type { Column } from "../table.js";

interface KubeconfigOptions {
  merge: boolean;
  force?: boolean;
  ttl?: string;
}

/** The JSON/YAML shape of `kubeconfig`. */
export interface KubeconfigRecord {
  node: string;
  file: string;
  context: string;
  server: string;
  expires: string;
  merged: boolean;
}

const columns: Column<KubeconfigRecord>[] = [
  { header: "CONTEXT", value: (r) => r.context },
  { header: "SERVER", value: (r) => r.server },
  { header: "EXPIRES", value: (r) => r.expires },
  { header: "FILE", value: (r) => r.file },
];

/** --merge's value: true when given bare, else true or false. */
function parseMerge(text: string): boolean {
  if (text === "true" || text === "false") return text === "true";
  throw usageError("--merge", `expected true or false, got "${text}"`);
}

/** --ttl in milliseconds (0: the machine's default, 24h), or a usage error naming the limit. */
function ttlOf(text: string | undefined): number {
  if (text === undefined) return 0;
  const ms = parseDurationFlag("--ttl", text);
  const problem = clientTtlProblem(ms);
  if (problem) throw usageError("--ttl", problem);
  return ms;
}

/** `kubeconfig`: an admin kubeconfig for the cluster, merged into the kubeconfig file. */
export function createKubeconfigCommand(deps: CliDeps): Command {
  const cmd = new Command("kubeconfig")
    .description("get a short-lived admin kubeconfig for the cluster from a control-plane node and merge it into PATH (admin only)")
    .argument("[path]", "kubeconfig to write (mode 0600); - prints it (default: the first entry of $KUBECONFIG, else ~/.kube/config)")
    .option("--merge [bool]", "merge into the existing file, keeping its other entries; --merge=false writes the file whole", parseMerge, true)
    .option("--force", "replace same-named entries of another cluster (merge), or the existing file (--merge=false)")
    .option("--ttl <duration>", "lifetime of the client certificate, e.g. 8h (default 24h, at most 8760h)");
  return addGlobalOptions(cmd, { connect: true }).action((path: string | undefined, o: KubeconfigOptions, c: Command) => {
    const ttlMs = ttlOf(o.ttl);
    const target = locateKubeconfig(path, deps.io.env);
    return withMachine(c, deps, "getting a kubeconfig", async (m) => {
      if (target.t === "stdout" && m.format !== "table") throw usageError("-o", "with PATH - the kubeconfig itself is the output; leave out -o");
      const res = await m.client.kubeconfig(ttlMs ? { crtTtl: durationFromMs(ttlMs) } : {}, m.call);
      const [k] = okMessages(res.messages);
      if (!k) return;
      if (target.t === "stdout") return m.print(k.kubeconfig);
      await writeKubeconfig(target.path, parse(new TextDecoder().decode(k.kubeconfig)), { merge: o.merge, force: o.force === true });
      const expires = k.expires ? timestampDate(k.expires).toISOString() : "";
      const record = { node: nodeOf(k), file: target.path, context: k.context, server: k.server, expires, merged: o.merge };
      m.print(m.format === "table" ? summary(record) : renderOne(m.format, record, columns));
    });
  });
}

/** The one line a person reads. */
function summary(r: KubeconfigRecord): string {
  return `${r.merged ? "merged" : "wrote"} context ${r.context} (server ${r.server}, expires ${r.expires}) into ${r.file}; it is the current context\n`;
}
