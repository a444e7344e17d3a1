// dnsmasq for a cluster: bound to the bridge alone, no DNS, no config but
// ours, fixed leases only, its files in the cluster's state directory; a
// host without it is told which package to install.
import t from "tap";
import { dnsmasqArgs, requireDnsmasq } from "../../src/provision/qemu/dnsmasq.js";
import { parseNet, planCluster } from "../../src/provision/qemu/cluster-plan.js";

t.test("the arguments: the bridge only, no DNS, static leases per node", async (t) => {
  const plan = planCluster("dev", parseNet("10.5.9.0/24")!, 1, 1);
  const args = dnsmasqArgs(plan, { pidFile: "/s/dnsmasq.pid", leaseFile: "/s/dnsmasq.leases", logFile: "/s/dnsmasq.log" });
  for (const a of ["--conf-file=/dev/null", `--interface=${plan.bridge}`, "--bind-interfaces", "--except-interface=lo", "--port=0", "--dhcp-range=10.5.9.0,static,255.255.255.0,12h", "--dhcp-leasefile=/s/dnsmasq.leases", "--pid-file=/s/dnsmasq.pid"]) {
    t.ok(args.includes(a), a);
  }
  t.ok(args.includes(`--dhcp-host=${plan.nodes[0]!.mac},10.5.9.2,cp-1,infinite`), "cp-1's fixed lease");
  t.ok(args.includes(`--dhcp-host=${plan.nodes[1]!.mac},10.5.9.3,w-1,infinite`), "w-1's fixed lease");
});

t.test("without dnsmasq the error names the package", async (t) => {
  const path = process.env.PATH;
  process.env.PATH = "/nonexistent";
  t.teardown(() => {
    process.env.PATH = path;
  });
  t.throws(() => requireDnsmasq(), /dnsmasq is not installed: apt-get install dnsmasq-base/);
});
