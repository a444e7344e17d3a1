// `kilnctl services` and `kilnctl service ID [status|start|stop|restart]`.
import { Command } from "commander";
import type { CliDeps } from "../deps.js";
import { CliError, usageError } from "../errors.js";
import { ExitCode } from "../exit-codes.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf, okMessages } from "../node-messages.js";
import { renderList, renderPerNode } from "../output.js";
import { type ServiceRecord, serviceColumns, serviceRecord } from "../service-view.js";
import type { MachineSession } from "../session.js";
import { withMachine } from "../session.js";
import type { Column } from "../table.js";

const actions = ["status", "start", "stop", "restart"] as const;
type Action = (typeof actions)[number];

/** The JSON/YAML shape of a start, stop or restart. */
export interface ServiceActionRecord {
  node: string;
  id: string;
  action: string;
  result: string;
}

const actionColumns: Column<ServiceActionRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "SERVICE", value: (r) => r.id },
  { header: "RESULT", value: (r) => r.result },
];

/** `service [id] [action]`, also spelled `services`: lists services without an id. */
export function createServiceCommand(deps: CliDeps): Command {
  const cmd = new Command("service")
    .alias("services")
    .description("list services, or show, start, stop or restart one")
    .argument("[id]", "service id; omit to list every service")
    .argument("[action]", `one of ${actions.join(", ")}`, "status");
  return addGlobalOptions(cmd, { connect: true }).action((id: string | undefined, action: string, _o, c: Command) => {
    if (id === undefined) return withMachine(c, deps, "listing services", (m) => list(m));
    const a = parseAction(action);
    return withMachine(c, deps, `service "${id}"`, (m) => (a === "status" ? status(m, id) : act(m, id, a)));
  });
}

/** The action argument, or a usage error. */
function parseAction(action: string): Action {
  if (actions.includes(action as Action)) return action as Action;
  throw usageError(`service action "${action}"`, `expected one of ${actions.join(", ")}`);
}

/** Every service of the machine. */
async function fetchServices(m: MachineSession): Promise<ServiceRecord[]> {
  const res = await m.client.serviceList({}, m.call);
  return okMessages(res.messages).flatMap((list) => list.services.map((s) => serviceRecord(nodeOf(list), s)));
}

/** Prints every service. */
async function list(m: MachineSession): Promise<void> {
  m.print(renderList(m.format, await fetchServices(m), serviceColumns(m.deps.now())));
}

/** Prints one service; NOT_FOUND (exit 3) when the machine has none by that id. */
async function status(m: MachineSession, id: string): Promise<void> {
  const found = (await fetchServices(m)).filter((s) => s.id === id);
  if (found.length === 0) throw new CliError(`service "${id}"`, "not found", ExitCode.notFound);
  const columns = serviceColumns(m.deps.now());
  m.print(renderPerNode(m.format, found, columns, m.nodes.length > 1));
}

/** Starts, stops or restarts a service and prints what the machine did. */
async function act(m: MachineSession, id: string, action: Exclude<Action, "status">): Promise<void> {
  const call = { start: m.client.serviceStart, stop: m.client.serviceStop, restart: m.client.serviceRestart }[action];
  const res = await call({ id }, m.call);
  const records = okMessages(res.messages).map((r) => ({ node: nodeOf(r), id: r.id || id, action, result: r.result }));
  m.print(renderPerNode(m.format, records, actionColumns, m.nodes.length > 1));
}
