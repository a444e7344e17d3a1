// What `containers` and `images` share: a list containerd keeps, every
// namespace or one (--namespace), one row a record; containerd being down is
// the machine's answer (exit 1 with its words), not a connection failure.
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Command } from "commander";
import { ApiError, Code } from "../../grpc/errors.js";
import type { CliDeps } from "../deps.js";
import { CliError } from "../errors.js";
import { addGlobalOptions } from "../global-options.js";
import { type MessageRow, renderMessages, rowsOf } from "../message-rows.js";
import { okMessages, type WithMetadata } from "../node-messages.js";
import { type MachineSession, withMachine } from "../session.js";
import type { Column } from "../table.js";

export interface ContainerdList<S extends DescMessage, M extends WithMetadata> {
  name: string;
  description: string;
  /** "listing containers" */
  doing: string;
  schema: S;
  columns: Column<MessageRow<MessageShape<S>>>[];
  call(m: MachineSession, namespace: string): Promise<{ messages: M[] }>;
  records(msg: M): MessageShape<S>[];
}

export function containerdListCommand<S extends DescMessage, M extends WithMetadata>(deps: CliDeps, l: ContainerdList<S, M>): Command {
  const cmd = new Command(l.name).description(l.description).option("--namespace <ns>", "only this containerd namespace, e.g. k8s.io (default: every namespace)");
  return addGlobalOptions(cmd, { connect: true }).action((o: { namespace?: string }, c: Command) =>
    withMachine(c, deps, l.doing, async (m) => {
      try {
        const res = await l.call(m, o.namespace ?? "");
        m.print(renderMessages(m.format, l.schema, rowsOf(okMessages(res.messages), l.records), l.columns));
      } catch (err) {
        if (err instanceof ApiError && err.code === Code.UNAVAILABLE && err.message.startsWith("containerd")) throw new CliError(l.doing, err.message);
        throw err;
      }
    }),
  );
}

/** A timestamp column's text: RFC 3339 to the second, or "-". */
export function isoSeconds(d: Date | undefined): string {
  return d ? d.toISOString().replace(/\.\d+Z$/, "Z") : "-";
}
