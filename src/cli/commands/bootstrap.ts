// `kilnctl bootstrap`: found the cluster's etcd on one control-plane node,
// once for the cluster; the other control planes join it by themselves. The
// node refuses when it is a worker, lacks the etcd CA, was bootstrapped or
// joined already, or another node's etcd answers, saying what to do instead.
import { Command } from "commander";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf, okMessages } from "../node-messages.js";
import { renderPerNode } from "../output.js";
import { withMachine } from "../session.js";
import type { Column } from "../table.js";

/** The JSON/YAML shape of `bootstrap`, one per node. */
export interface BootstrapRecord {
  node: string;
  message: string;
}

const columns: Column<BootstrapRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "RESULT", value: (r) => r.message },
];

/** `bootstrap`: returns once the node has taken the bootstrap sequence (etcd then starts). */
export function createBootstrapCommand(deps: CliDeps): Command {
  const cmd = new Command("bootstrap").description("found the cluster's etcd on this control-plane node, once for the cluster; the other control planes join it by themselves (admin only)");
  return addGlobalOptions(cmd, { connect: true }).action((_o: unknown, c: Command) =>
    withMachine(c, deps, "bootstrapping", async (m) => {
      const res = await m.client.bootstrap({}, m.call);
      const records = okMessages(res.messages).map((r) => ({ node: nodeOf(r), message: r.message }));
      m.print(renderPerNode(m.format, records, columns, m.nodes.length > 1));
    }),
  );
}
