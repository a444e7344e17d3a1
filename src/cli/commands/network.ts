// `kilnctl get links|addresses|routes`: the machine's network as its kernel has it.
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Command } from "commander";
import {
  type AddressInfo,
  AddressInfoSchema,
  type LinkInfo,
  LinkInfoSchema,
  type RouteInfo,
  RouteInfoSchema,
} from "../../gen/kiln/machine/v1/machine_pb.js";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { type MessageRow, renderMessages, rowsOf } from "../message-rows.js";
import { okMessages, type WithMetadata } from "../node-messages.js";
import { type MachineSession, withMachine } from "../session.js";
import type { Column } from "../table.js";

const linkColumns: Column<MessageRow<LinkInfo>>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "INDEX", value: (r) => String(r.msg.index) },
  { header: "NAME", value: (r) => r.msg.name },
  { header: "STATE", value: (r) => (r.msg.up ? (r.msg.lowerUp ? "up" : "no-carrier") : "down") },
  { header: "MTU", value: (r) => String(r.msg.mtu) },
  { header: "MAC", value: (r) => r.msg.mac || "-" },
];

const addressColumns: Column<MessageRow<AddressInfo>>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "LINK", value: (r) => r.msg.link },
  { header: "FAMILY", value: (r) => `inet${r.msg.family === 6 ? "6" : ""}` },
  { header: "ADDRESS", value: (r) => `${r.msg.address}/${r.msg.prefixLength}` },
];

const routeColumns: Column<MessageRow<RouteInfo>>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "DESTINATION", value: (r) => r.msg.destination },
  { header: "GATEWAY", value: (r) => r.msg.gateway || "-" },
  { header: "LINK", value: (r) => r.msg.link || "-" },
  { header: "METRIC", value: (r) => String(r.msg.metric) },
  { header: "PROTOCOL", value: (r) => r.msg.protocol },
  { header: "SCOPE", value: (r) => r.msg.scope },
  { header: "SOURCE", value: (r) => r.msg.source || "-" },
];

/** `get links`, `get addresses` and `get routes`, to add under `get`. */
export function createNetworkGetCommands(deps: CliDeps): Command[] {
  return [
    command(deps, "links", "show the machine's network links", async (m) => {
      const res = await m.client.links({}, m.call);
      return table(m, LinkInfoSchema, res.messages, (x) => x.links, linkColumns);
    }),
    command(deps, "addresses", "show the machine's IP addresses", async (m) => {
      const res = await m.client.addresses({}, m.call);
      return table(m, AddressInfoSchema, res.messages, (x) => x.addresses, addressColumns);
    }),
    command(deps, "routes", "show the machine's routes (main table)", async (m) => {
      const res = await m.client.routes({}, m.call);
      return table(m, RouteInfoSchema, res.messages, (x) => x.routes, routeColumns);
    }),
  ];
}

/** Every node's items of one kind, rendered in the session's format. */
function table<L extends WithMetadata, D extends DescMessage>(
  m: MachineSession,
  schema: D,
  lists: L[],
  items: (list: L) => MessageShape<D>[],
  columns: Column<MessageRow<MessageShape<D>>>[],
): string {
  return renderMessages(m.format, schema, rowsOf(okMessages(lists), items), columns);
}

/** One `get` subcommand printing what `render` returns. */
function command(deps: CliDeps, name: string, description: string, render: (m: MachineSession) => Promise<string>): Command {
  const cmd = new Command(name).description(description);
  return addGlobalOptions(cmd, { connect: true }).action((_o, c: Command) =>
    withMachine(c, deps, `listing ${name}`, async (m) => m.print(await render(m))),
  );
}
