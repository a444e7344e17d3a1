// What the host runs to wire one boot's network.
import t from "tap";
import { sandboxRange, slotAddresses } from "../../src/provision/sandbox/addresses.js";
import type { Lease } from "../../src/provision/sandbox/leases.js";
import { hostCommands, sandboxCommands } from "../../src/provision/sandbox/veth.js";

const lease: Lease = { ...slotAddresses(sandboxRange({}), 3), name: "web-1", stateDir: "/s/web-1", owner: { pid: 1, start: 2 } };

t.test("the host creates the pair with eth0 inside the sandbox and addresses its own end", async (t) => {
  t.same(hostCommands(lease, 4242), [
    "link add kiln-3 type veth peer name eth0 netns 4242",
    "link set dev kiln-3 alias kiln-sandbox:web-1",
    "addr add 10.213.0.13/30 dev kiln-3",
    "link set dev kiln-3 up",
  ]);
});

t.test("inside, lo and eth0 come up with .2 and a default route via the host end", async (t) => {
  t.same(sandboxCommands(lease), [
    "link set dev lo up",
    "addr add 10.213.0.14/30 dev eth0",
    "link set dev eth0 up",
    "route add default via 10.213.0.13 dev eth0",
  ]);
});
