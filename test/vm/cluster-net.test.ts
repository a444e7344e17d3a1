// A two-node cluster of VMs on a host bridge (one control plane, one worker;
// the tier's image, without Kubernetes): each machine answers on its own
// fixed address from the host (no port forwarding), create founded etcd on
// the control plane and merged its admin kubeconfig, `cluster show` lists
// both, the worker answers through the control plane (-e CP -n WORKER
// fan-out over the bridge), and `cluster destroy` leaves no VM, dnsmasq,
// link or state behind.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { parse } from "yaml";
import { alive, BOOT_TIMEOUT_MS, kilnctl, skip as vmSkip, testImage } from "./vm-helpers.js";

const name = "vm-cnet";
const skip = vmSkip || (existsSync("/usr/sbin/dnsmasq") ? false : "needs dnsmasq");
const dir = mkdtempSync(join(tmpdir(), "kiln-cnet-"));
const env = { KILNCONFIG: join(dir, "kilnconfig"), KILN_CLUSTER_DIR: join(dir, "clusters"), KUBECONFIG: join(dir, "kubeconfig") };
const ctl = (args: string[], timeout = 60_000) => kilnctl(args, env, timeout);

interface Node {
  name: string;
  role: string;
  address: string;
  mac: string;
  status: string;
  pid: number;
}
interface Cluster {
  name: string;
  bridge: string;
  subnet: string;
  stateDir: string;
  nodes: Node[];
}

t.test("a control plane and a worker on a host bridge", { skip, timeout: 4 * BOOT_TIMEOUT_MS }, async (t) => {
  const image = testImage();
  t.teardown(() => {
    ctl(["cluster", "destroy", name]);
    rmSync(dir, { recursive: true, force: true });
  });
  const created = ctl(["cluster", "create", "--provisioner", "qemu", "--name", name, "--controlplanes", "1", "--workers", "1", "--image", image, "--memory", "1536", "--wait-timeout", `${(2 * BOOT_TIMEOUT_MS) / 1000}s`, "-o", "json"], 2 * BOOT_TIMEOUT_MS + 60_000);
  t.equal(created.code, 0, created.stderr);
  const cluster = JSON.parse(created.stdout) as Cluster;
  const [cp, worker] = cluster.nodes as [Node, Node];
  t.same([cp.name, cp.role, worker.name, worker.role], ["cp-1", "controlplane", "w-1", "worker"]);
  t.match(cluster.bridge, /^kb-[0-9a-f]{8}$/);
  t.ok(readdirSync("/sys/class/net").includes(cluster.bridge), "the bridge exists");

  for (const n of [cp, worker]) {
    const r = ctl(["-e", n.address, "-n", n.address, "hostname", "-o", "json"]);
    t.equal(r.code, 0, `${n.name} answers at ${n.address}:50000 directly: ${r.stderr}`);
    t.match(r.stdout, new RegExp(`"hostname": "${n.name}"`), `${n.name}'s hostname from its config`);
    const v = ctl(["-e", n.address, "-n", n.address, "version"]);
    t.equal(v.code, 0, `kilnctl version on ${n.name}: ${v.stderr}`);
  }

  // The bootstrap sequence starts etcd once create's Bootstrap call returned.
  let etcd = ctl(["-e", cp.address, "-n", cp.address, "service", "etcd", "-o", "json"]);
  for (let i = 0; i < 60 && !/"state": "Running"/.test(etcd.stdout); i++) {
    await new Promise((r) => setTimeout(r, 2000));
    etcd = ctl(["-e", cp.address, "-n", cp.address, "service", "etcd", "-o", "json"]);
  }
  t.match(etcd.stdout, /"state": "Running"/, `create bootstrapped etcd on cp-1: ${etcd.stdout} ${etcd.stderr}`);
  const kubeconfig = parse(readFileSync(env.KUBECONFIG, "utf8")) as { "current-context": string; clusters: { cluster: { server: string } }[] };
  t.equal(kubeconfig["current-context"], `admin@${name}`, "create merged the cluster's admin kubeconfig and made it current");
  t.same(kubeconfig.clusters.map((c) => c.cluster.server), [`https://${cp.address}:6443`]);

  const shown = ctl(["cluster", "show", name, "-o", "json"]);
  t.equal(shown.code, 0, shown.stderr);
  const show = JSON.parse(shown.stdout) as Cluster;
  t.same(show.nodes.map((n) => [n.name, n.address, n.mac, n.status]), [cp, worker].map((n) => [n.name, n.address, n.mac, "running"]), "cluster show lists both, running");
  t.match(ctl(["cluster", "show", name]).stdout, /cp-1\s+controlplane\s+\S+\s+\S+\s+running/);

  const through = ctl(["-e", cp.address, "-n", worker.address, "hostname", "-o", "json"]);
  t.equal(through.code, 0, `the worker answers through the control plane: ${through.stderr}`);
  t.match(through.stdout, /"hostname": "w-1"/);
  const both = ctl(["hostname", "-o", "json"]);
  t.equal(both.code, 0, `the kilnconfig's current context reaches both: ${both.stderr}`);
  t.same(JSON.parse(both.stdout), [
    { node: cp.address, hostname: "cp-1" },
    { node: worker.address, hostname: "w-1" },
  ]);

  const destroyed = ctl(["cluster", "destroy", name], 120_000);
  t.equal(destroyed.code, 0, destroyed.stderr);
  const links = readdirSync("/sys/class/net");
  t.notOk(links.some((l) => l === cluster.bridge || l.startsWith(cluster.bridge.replace("kb-", "kt-"))), "no bridge, no taps");
  t.notOk(alive(cp.pid) || alive(worker.pid), "both QEMUs have ended");
  t.notOk(existsSync(cluster.stateDir), "the state directory is gone");
  const dnsmasq = readdirSync("/proc").filter((p) => /^\d+$/.test(p)).some((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(cluster.stateDir);
    } catch {
      return false;
    }
  });
  t.notOk(dnsmasq, "no dnsmasq of the cluster runs");
});
