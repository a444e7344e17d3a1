// `kilnctl get links|addresses|routes`: the machine's network as its kernel has it.
import { Command } from "commander";
import type { AddressInfo, LinkInfo, RouteInfo } from "../../gen/kiln/machine/v1/machine_pb.js";
import type { CliDeps } from "../deps.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf, okMessages } from "../node-messages.js";
import { renderList } from "../output.js";
import { type MachineSession, withMachine } from "../session.js";
import type { Column } from "../table.js";

/** The JSON/YAML shape of one link (`get links -o json` prints an array). */
export interface LinkRecord {
  node: string;
  index: number;
  name: string;
  up: boolean;
  lowerUp: boolean;
  mtu: number;
  mac: string;
}

/** One address with its prefix length. */
export interface AddressRecord {
  node: string;
  link: string;
  family: number;
  address: string;
  prefixLength: number;
}

/** One route of the main table. */
export interface RouteRecord {
  node: string;
  family: number;
  destination: string;
  gateway: string;
  link: string;
  metric: number;
  source: string;
  protocol: string;
  scope: string;
}

const linkColumns: Column<LinkRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "INDEX", value: (r) => String(r.index) },
  { header: "NAME", value: (r) => r.name },
  { header: "STATE", value: (r) => (r.up ? (r.lowerUp ? "up" : "no-carrier") : "down") },
  { header: "MTU", value: (r) => String(r.mtu) },
  { header: "MAC", value: (r) => r.mac || "-" },
];

const addressColumns: Column<AddressRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "LINK", value: (r) => r.link },
  { header: "FAMILY", value: (r) => `inet${r.family === 6 ? "6" : ""}` },
  { header: "ADDRESS", value: (r) => `${r.address}/${r.prefixLength}` },
];

const routeColumns: Column<RouteRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "DESTINATION", value: (r) => r.destination },
  { header: "GATEWAY", value: (r) => r.gateway || "-" },
  { header: "LINK", value: (r) => r.link || "-" },
  { header: "METRIC", value: (r) => String(r.metric) },
  { header: "PROTOCOL", value: (r) => r.protocol },
  { header: "SCOPE", value: (r) => r.scope },
  { header: "SOURCE", value: (r) => r.source || "-" },
];

const linkRecord = (node: string, l: LinkInfo): LinkRecord => ({ node, index: l.index, name: l.name, up: l.up, lowerUp: l.lowerUp, mtu: l.mtu, mac: l.mac });
const addressRecord = (node: string, a: AddressInfo): AddressRecord => ({ node, link: a.link, family: a.family, address: a.address, prefixLength: a.prefixLength });
const routeRecord = (node: string, r: RouteInfo): RouteRecord => ({
  node, family: r.family, destination: r.destination, gateway: r.gateway, link: r.link, metric: r.metric, source: r.source, protocol: r.protocol, scope: r.scope,
});

/** `get links`, `get addresses` and `get routes`, to add under `get`. */
export function createNetworkGetCommands(deps: CliDeps): Command[] {
  return [
    command(deps, "links", "show the machine's network links", async (m) => {
      const res = await m.client.links({}, m.call);
      return renderList(m.format, okMessages(res.messages).flatMap((x) => x.links.map((l) => linkRecord(nodeOf(x), l))), linkColumns);
    }),
    command(deps, "addresses", "show the machine's IP addresses", async (m) => {
      const res = await m.client.addresses({}, m.call);
      return renderList(m.format, okMessages(res.messages).flatMap((x) => x.addresses.map((a) => addressRecord(nodeOf(x), a))), addressColumns);
    }),
    command(deps, "routes", "show the machine's routes (main table)", async (m) => {
      const res = await m.client.routes({}, m.call);
      return renderList(m.format, okMessages(res.messages).flatMap((x) => x.routes.map((r) => routeRecord(nodeOf(x), r))), routeColumns);
    }),
  ];
}

/** One `get` subcommand printing what `render` returns. */
function command(deps: CliDeps, name: string, description: string, render: (m: MachineSession) => Promise<string>): Command {
  const cmd = new Command(name).description(description);
  return addGlobalOptions(cmd, { connect: true }).action((_o, c: Command) =>
    withMachine(c, deps, `listing ${name}`, async (m) => m.print(await render(m))),
  );
}
