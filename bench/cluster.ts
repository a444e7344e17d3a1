// Benchmarks of a Kubernetes cluster of two VMs (one control plane, one
// worker) under the same accelerator as the vm benchmarks: `cluster create`
// to every Node Ready, and a worker's reboot to its Node Ready again, each
// beside the same image's single boot to apid answering in this run; then the
// RSS of machined, apid, kubelet, etcd and kube-apiserver on the idle
// cluster, beside Talos's published sample (machined 133 MiB, apid 26 MiB,
// kubelet 103 MiB, etcd 382 MiB; it gives none for the API server, which is
// compared with etcd on the same node). Needs hack/kubernetes.sh's build.
import { execFileSync, spawnSync } from "node:child_process";
import { join, resolve } from "node:path";
import { freePort } from "../src/provision/qemu/create.js";
import { apidAnswers, bootUntil, type Report, workingAccel } from "./vm.js";
import { scratchDir } from "../test/fixtures/scratch.js";

const root = resolve(import.meta.dirname, "..");
const MiB = 2 ** 20;
const talos = { machined: 133, apid: 26, kubelet: 103, etcd: 382 };

interface Node {
  name: string;
  address: string;
}

export async function clusterBenchmarks(report: Report): Promise<void> {
  const k8s = execFileSync("bash", [join(root, "hack/kubernetes.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
  const dir = scratchDir("kiln-bench-cluster-");
  const env = { ...process.env, KILNCONFIG: join(dir, "kilnconfig"), KILN_CLUSTER_DIR: join(dir, "clusters"), KUBECONFIG: join(dir, "kubeconfig") };
  const kilnctl = (args: string[]) => execFileSync(process.execPath, [join(root, "bin/kilnctl.js"), ...args], { encoding: "utf8", env, maxBuffer: 1 << 26 });
  const kubectl = (args: string[]) => spawnSync(join(k8s, "kubectl"), args, { encoding: "utf8", env, timeout: 30_000 }).stdout ?? "";
  const image = join(dir, "image");
  kilnctl(["image", "build", "--out", image, "--kubernetes", k8s]);

  const accel = await workingAccel(join(image, "kernel"), join(image, "initramfs"));
  const port = await freePort();
  const single = await bootUntil(accel, { kernel: join(image, "kernel"), initramfs: join(image, "initramfs") }, () => apidAnswers(port), port);

  const ready = () => kubectl(["get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=='Ready')].status} {end}"]).trim();
  const t0 = performance.now();
  try {
    const cluster = JSON.parse(kilnctl(["cluster", "create", "--provisioner", "qemu", "--name", "bench-k8s", "--controlplanes", "1", "--workers", "1", "--image", image, "-o", "json"])) as { nodes: Node[] };
    await until(1_200_000, () => ready() === "cp-1=True w-1=True", "both Nodes Ready");
    report(`cluster create 1+1 (${accel}) to every Node Ready (vs one boot of the same image to apid answering)`, performance.now() - t0, single, "ms");

    const [cp, worker] = cluster.nodes as [Node, Node];
    const bootId = () => kubectl(["get", "node", "w-1", "-o", "jsonpath={.status.nodeInfo.bootID}"]);
    const before = bootId();
    const r0 = performance.now();
    kilnctl(["-n", worker.address, "reboot"]);
    await until(600_000, () => bootId() !== before && kubectl(["get", "node", "w-1", "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"]) === "True", "the worker Ready again");
    report(`worker reboot to its Node Ready again (vs one boot to apid answering)`, performance.now() - r0, single, "ms");

    await new Promise((r) => setTimeout(r, 30_000));
    type Proc = { pid: number; residentMemory: string; args: string };
    const rss = (node: Node, what: string, match: (p: Proc) => boolean) => {
      const p = (JSON.parse(kilnctl(["-n", node.address, "processes", "-o", "json"])) as Proc[]).find(match);
      if (!p) throw new Error(`no ${what} process on ${node.name}`);
      return Number(p.residentMemory) / MiB;
    };
    const program = (name: string) => (p: Proc) => new RegExp(`^\\S*/${name}( |$)`).test(p.args);
    report("machined RSS on the idle control plane (vs Talos's sample)", rss(cp, "machined", (p) => p.pid === 1), talos.machined, "MiB");
    report("machined RSS on the idle worker (vs Talos's sample)", rss(worker, "machined", (p) => p.pid === 1), talos.machined, "MiB");
    report("apid RSS on the idle control plane (vs Talos's sample)", rss(cp, "apid", (p) => p.args.includes("apid.cjs")), talos.apid, "MiB");
    report("kubelet RSS on the idle worker (vs Talos's sample)", rss(worker, "kubelet", program("kubelet")), talos.kubelet, "MiB");
    const etcd = rss(cp, "etcd", program("etcd"));
    report("etcd RSS on the idle control plane (vs Talos's sample)", etcd, talos.etcd, "MiB");
    report("kube-apiserver RSS on the idle control plane (vs etcd's on the same node)", rss(cp, "kube-apiserver", program("kube-apiserver")), etcd, "MiB");
  } finally {
    spawnSync(process.execPath, [join(root, "bin/kilnctl.js"), "cluster", "destroy", "bench-k8s"], { env, stdio: "ignore" });
  }
}

/** Polls `check` every 2 s; throws naming `what` after `ms`. */
async function until(ms: number, check: () => boolean, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error(`${what}: not within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}
