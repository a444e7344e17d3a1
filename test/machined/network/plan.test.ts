import t from "tap";
import type { MachineConfig } from "../../../src/config/schema.js";
import type { Link } from "../../../src/net/rtnetlink.js";
import { diffPlans, planNetwork } from "../../../src/machined/network/plan.js";
import { configOf, worker } from "../../config/fixtures.js";

const link = (index: number, name: string, mac: string): Link => ({ index, name, up: false, lowerUp: false, mtu: 1500, mac });
const links = [link(1, "lo", "00:00:00:00:00:00"), link(3, "eth1", "52:54:00:00:00:02"), link(2, "eth0", "52:54:00:00:00:01"), link(4, "wg0", "")];
const cfg = (network: Record<string, unknown> | undefined): MachineConfig => configOf(worker(network ? { network } : {}));

t.test("without config, or without interfaces, DHCP runs on the first Ethernet-like link by index", async (t) => {
  const dhcpOnEth0 = { links: [{ name: "eth0", addresses: [], routes: [], dhcp: true }], warnings: [] };
  t.same(planNetwork(undefined, links), dhcpOnEth0);
  t.same(planNetwork(cfg({ nameservers: ["1.1.1.1"] }), links), dhcpOnEth0);
  t.same(planNetwork(undefined, [links[0]!, links[3]!]), { links: [], warnings: [] }, "loopback and MAC-less links never qualify");
});

t.test("with interfaces, each named link gets its MTU, addresses, routes and DHCP; unknown names are warnings", async (t) => {
  const plan = planNetwork(
    cfg({
      interfaces: [
        { name: "eth1", mtu: 9000, addresses: ["192.168.1.10/24"], routes: [{ network: "0.0.0.0/0", gateway: "192.168.1.1" }, { network: "10.9.0.0/16", gateway: "192.168.1.2", metric: 50 }] },
        { name: "eth0", dhcp: true },
        { name: "eth7", dhcp: true },
      ],
    }),
    links,
  );
  t.same(plan.links, [
    { name: "eth1", mtu: 9000, addresses: ["192.168.1.10/24"], dhcp: false, routes: [
      { dst: "default", gateway: "192.168.1.1", dev: "eth1" },
      { dst: "10.9.0.0/16", gateway: "192.168.1.2", dev: "eth1", metric: 50 },
    ] },
    { name: "eth0", addresses: [], routes: [], dhcp: true },
  ]);
  t.same(plan.warnings, ["machine.network.interfaces[2].name: no link named `eth7` (links: lo, eth1, eth0, wg0)"]);
});

t.test("the diff undoes what is no longer wanted and does only what is new", async (t) => {
  const prev = [
    { name: "eth0", addresses: ["10.0.0.2/24", "10.0.0.3/24"], routes: [{ dst: "default", gateway: "10.0.0.1", dev: "eth0" }], dhcp: false },
    { name: "eth1", addresses: [], routes: [], dhcp: true },
  ];
  const next = [{ name: "eth0", mtu: 1400, addresses: ["10.0.0.3/24", "10.0.0.4/24"], routes: [{ dst: "default", gateway: "10.0.0.254", dev: "eth0" }], dhcp: true }];
  t.same(diffPlans(prev, next), {
    stopDhcp: ["eth1"],
    removeRoutes: [{ dst: "default", gateway: "10.0.0.1", dev: "eth0" }],
    removeAddresses: [{ link: "eth0", cidr: "10.0.0.2/24" }],
    down: ["eth1"],
    up: [{ name: "eth0", mtu: 1400 }],
    addAddresses: [{ link: "eth0", cidr: "10.0.0.4/24" }],
    addRoutes: [{ dst: "default", gateway: "10.0.0.254", dev: "eth0" }],
    startDhcp: ["eth0"],
  });
  const same = diffPlans(next, next);
  t.same(same.up, [{ name: "eth0" }], "an unchanged plan only makes sure its links are up");
  t.same([same.stopDhcp, same.removeRoutes, same.removeAddresses, same.down, same.addAddresses, same.addRoutes, same.startDhcp], [[], [], [], [], [], [], []]);
});
