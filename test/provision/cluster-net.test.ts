// A cluster's host network for real, as root and without VMs: the bridge,
// two taps and dnsmasq as createCluster makes them; then a veth into a
// network namespace stands in for a VM's NIC (a tap carries nothing without
// QEMU), and kiln's own DHCP client there gets each node's fixed lease by
// its MAC; destroyCluster then leaves no link, no process and no state.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";

const skip = process.getuid?.() !== 0 ? "needs root" : existsSync("/usr/sbin/dnsmasq") ? false : "needs dnsmasq";
const root = mkdtempSync(join(tmpdir(), "kiln-clusters-"));
process.env.KILN_CLUSTER_DIR = root;

const { chooseSubnet, planCluster } = await import("../../src/provision/qemu/cluster-plan.js");
const { createBridge, createTap, hostLinks, hostNetworks } = await import("../../src/provision/qemu/host-net.js");
const { startDnsmasq } = await import("../../src/provision/qemu/dnsmasq.js");
const { clusterLayout } = await import("../../src/provision/qemu/cluster-state.js");
const { destroyCluster } = await import("../../src/provision/qemu/cluster-destroy.js");
const { isAlive } = await import("../../src/provision/sandbox/proc.js");
const { writeRecord } = await import("../../src/provision/sandbox/state.js");

t.teardown(() => rmSync(root, { recursive: true, force: true }));

const cluster = `hostnet-${process.pid}`;
const netns = `kcn-${process.pid}`;
const vethHost = `kv-${process.pid}`.slice(0, 15);
const ip = (...args: string[]) => execFileSync("ip", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const quiet = (...args: string[]) => {
  try {
    ip(...args);
  } catch {
    // already gone
  }
};

/** Runs kiln's DHCP client inside the namespace on eth0; resolves with the lease. */
function takeLease(mac: string): Promise<{ address: string; prefixLength: number; hostname?: string; router: string }> {
  ip("-n", netns, "link", "set", "dev", "eth0", "down");
  ip("-n", netns, "link", "set", "dev", "eth0", "address", mac);
  ip("-n", netns, "addr", "flush", "dev", "eth0");
  ip("-n", netns, "link", "set", "dev", "eth0", "up");
  const script = join(import.meta.dirname, "fixtures/dhcp-lease.ts");
  return new Promise((resolve, reject) => {
    const c = spawn("ip", ["netns", "exec", netns, process.execPath, "--import", "tsx", script, "eth0", mac], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    c.stderr.on("data", (d: Buffer) => (err += d.toString()));
    c.on("close", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`dhcp-lease exited ${code}: ${err}${out}`))));
  });
}

t.test("bridge, taps and dnsmasq give each MAC its fixed lease; destroy leaves nothing", { skip, timeout: 120_000 }, async (t) => {
  const layout = clusterLayout(cluster);
  const plan = planCluster(cluster, chooseSubnet(hostNetworks()), 1, 1);
  t.teardown(async () => {
    await destroyCluster(cluster, { graceMs: 0 }).catch(() => {});
    quiet("link", "delete", "dev", vethHost);
    quiet("netns", "delete", netns);
  });
  mkdirSync(layout.nodes, { recursive: true });
  writeRecord(layout, { name: cluster, provisioner: "qemu", status: "creating", plan, image: "/nonexistent", createdAt: new Date().toISOString() });

  createBridge(plan);
  for (const n of plan.nodes) createTap(plan.bridge, n.tap);
  const dnsmasq = await startDnsmasq(plan, layout);
  t.ok(isAlive(dnsmasq), `dnsmasq runs (pid ${dnsmasq.pid})`);
  const links = hostLinks();
  t.ok(links.includes(plan.bridge), `bridge ${plan.bridge}`);
  for (const n of plan.nodes) {
    t.ok(links.includes(n.tap), `tap ${n.tap}`);
    t.equal(readFileSync(`/sys/class/net/${n.tap}/master/ifindex`, "utf8"), readFileSync(`/sys/class/net/${plan.bridge}/ifindex`, "utf8"), `${n.tap} is a port of ${plan.bridge}`);
  }
  t.match(ip("-4", "addr", "show", "dev", plan.bridge), new RegExp(`inet ${plan.hostAddress.replaceAll(".", "\\.")}/24`), "the host holds .1");

  // a VM's NIC stand-in: a veth whose peer is eth0 in a namespace
  ip("netns", "add", netns);
  ip("link", "add", vethHost, "type", "veth", "peer", "name", "eth0", "netns", netns);
  ip("link", "set", "dev", vethHost, "master", plan.bridge);
  ip("link", "set", "dev", vethHost, "up");
  ip("-n", netns, "link", "set", "dev", "lo", "up");

  for (const n of plan.nodes) {
    const lease = await takeLease(n.mac);
    t.equal(lease.address, n.address, `${n.name} (${n.mac}) gets its fixed address ${n.address}`);
    t.equal(lease.prefixLength, 24, "a /24");
    t.equal(lease.hostname, n.name, `and its hostname ${n.name}`);
    t.equal(lease.router, plan.hostAddress, "the host is the router");
  }
  const again = await takeLease(plan.nodes[0]!.mac);
  t.equal(again.address, plan.nodes[0]!.address, "the same address again for the same MAC");
  await takeLease("02:00:00:00:00:99").then(
    () => t.fail("a MAC not in the plan got a lease"),
    () => t.pass("a MAC not in the plan gets no lease (static leases only)"),
  );
  t.match(readFileSync(layout.leaseFile, "utf8"), plan.nodes[0]!.mac, "the lease file is in the cluster's state directory");

  quiet("link", "delete", "dev", vethHost);
  t.equal(await destroyCluster(cluster, { graceMs: 0 }), true, "destroy found the cluster");
  const after = hostLinks();
  t.notOk(after.includes(plan.bridge), "the bridge is gone");
  for (const n of plan.nodes) t.notOk(after.includes(n.tap), `${n.tap} is gone`);
  t.notOk(isAlive(dnsmasq), "dnsmasq has ended");
  t.notOk(existsSync(layout.dir), "the state directory is gone");
  t.equal(await destroyCluster(cluster, { graceMs: 0 }), false, "a second destroy finds nothing and does not fail");
});

t.test("destroy ends a dnsmasq that neither the record nor a pid file names", { skip, timeout: 120_000 }, async (t) => {
  // as a create cut short leaves it: dnsmasq up, and no record or pid file saying so
  const name = `orphan-${process.pid}`;
  const layout = clusterLayout(name);
  const plan = planCluster(name, chooseSubnet(hostNetworks()), 1, 0);
  t.teardown(() => destroyCluster(name, { graceMs: 0 }).catch(() => {}));
  mkdirSync(layout.nodes, { recursive: true });
  createBridge(plan);
  const dnsmasq = await startDnsmasq(plan, layout);
  rmSync(layout.pidFile);
  t.ok(isAlive(dnsmasq), `dnsmasq runs (pid ${dnsmasq.pid}), its pid file gone`);
  t.equal(await destroyCluster(name, { graceMs: 0 }), true);
  t.notOk(isAlive(dnsmasq), "dnsmasq has ended");
  t.notOk(hostLinks().includes(plan.bridge), "the bridge is gone");
});

t.test("a create that fails cleans up after itself; a name in use is refused", { skip, timeout: 120_000 }, async (t) => {
  const { createCluster } = await import("../../src/provision/qemu/cluster-create.js");
  const { bridgeName } = await import("../../src/provision/qemu/cluster-plan.js");
  const { writeFileSync } = await import("node:fs");
  // an "image" QEMU cannot boot: it exits at once, after the network and dnsmasq are up
  const image = mkdtempSync(join(tmpdir(), "kiln-bad-image-"));
  t.teardown(() => rmSync(image, { recursive: true, force: true }));
  for (const f of ["kernel", "initramfs", "cmdline"]) writeFileSync(join(image, f), "not a kernel\n");
  const name = `failing-${process.pid}`;
  const configsFor = async (plan: { nodes: { name: string }[] }) => Object.fromEntries(plan.nodes.map((n) => [n.name, "not used\n"]));
  const steps: string[] = [];
  await t.rejects(createCluster({ name, controlplanes: 1, workers: 1, imageDir: image, configsFor, onProgress: (s) => steps.push(s) }), /QEMU/);
  t.ok(steps.includes("starting dnsmasq"), `it got as far as dnsmasq (${steps.join("; ")})`);
  t.ok(steps.includes("cleaning up"), "and cleaned up");
  const bridge = bridgeName(name);
  t.notOk(hostLinks().some((l) => l === bridge || l.startsWith(bridge.replace("kb-", "kt-"))), "no bridge, no taps");
  t.notOk(existsSync(clusterLayout(name).dir), "no state");

  const taken = clusterLayout(name);
  mkdirSync(taken.dir, { recursive: true });
  writeRecord(taken, { name, provisioner: "qemu", status: "running", plan: planCluster(name, chooseSubnet([]), 1, 0), image, createdAt: "" });
  t.teardown(() => rmSync(taken.dir, { recursive: true, force: true }));
  await t.rejects(createCluster({ name, controlplanes: 1, workers: 0, imageDir: image, configsFor }), /a cluster named "failing-\d+" already exists .*destroy it first with kilnctl cluster destroy/);
  rmSync(taken.dir, { recursive: true, force: true });

  // The same name's bridge held by a cluster of another state directory: refused, and left alone.
  execFileSync("ip", ["link", "add", bridge, "type", "bridge"]);
  t.teardown(() => spawnSync("ip", ["link", "delete", "dev", bridge]));
  await t.rejects(createCluster({ name, controlplanes: 1, workers: 0, imageDir: image, configsFor }), new RegExp(`the host already has cluster "${name}"'s links \\(${bridge}\\).*pick another name`));
  t.ok(hostLinks().includes(bridge), "the other cluster's bridge is still there");
  t.notOk(existsSync(clusterLayout(name).dir), "and this create left no state");
});
