// The network-address condition that etcd and the kubelet wait for.
import t from "tap";
import { hasNetworkAddress, networkAddressed } from "../../../src/machined/services/network-addressed.js";
import type { MachineContext } from "../../../src/machined/service.js";

t.test("loopback and link-local addresses are not a network address; anything else is", async (t) => {
  t.notOk(hasNetworkAddress([]));
  t.notOk(hasNetworkAddress(["127.0.0.1", "::1", "fe80::6b:41ff:fec9:1", "FE80::1"]));
  t.ok(hasNetworkAddress(["127.0.0.1", "10.5.0.3"]));
  t.ok(hasNetworkAddress(["::1", "fd00::5"]));
});

t.test("waits until an address comes, and gives up when the service's start is aborted", async (t) => {
  let addrs = ["127.0.0.1", "fe80::1"];
  const cond = networkAddressed(() => addrs, 5);
  let done = false;
  const waiting = cond.wait({} as MachineContext, new AbortController().signal).then(() => (done = true));
  await new Promise((r) => setTimeout(r, 30));
  t.notOk(done, "still waiting with only loopback and link-local");
  addrs = [...addrs, "10.5.0.3"];
  await waiting;
  t.ok(done);
  const ac = new AbortController();
  const stuck = networkAddressed(() => [], 5).wait({} as MachineContext, ac.signal);
  ac.abort(new Error("stopped"));
  await t.rejects(stuck, { message: "stopped" });
});
