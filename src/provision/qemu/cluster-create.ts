// `cluster create --provisioner qemu --controlplanes C --workers W`: VMs on
// a host bridge of their own. In order: check the host's tools and the name,
// plan the network under a lock (a /24 no host route and no other cluster
// uses), get each node's config from the caller, make the bridge and taps,
// start dnsmasq with fixed leases, start every VM with its tap and config
// (fw_cfg), and wait until every machine's API answers on its own address.
// A failure anywhere removes all of it again (cluster-destroy.ts).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { apidPort } from "../../machinery/apid.js";
import { lastImage } from "../../image/last-image.js";
import type { ClusterCreateOptions, ClusterInfo } from "../provisioner.js";
import { parseConfig } from "../../config/parse.js";
import { withFileLock } from "../sandbox/file-lock.js";
import { checkName } from "../sandbox/name.js";
import { procRef } from "../sandbox/proc.js";
import { readRecord, writeRecord } from "../sandbox/state.js";
import { tail } from "../sandbox/live.js";
import { accessFor, waitForApid } from "./api.js";
import { type Net, type PlannedNode, chooseSubnet, parseNet, planCluster } from "./cluster-plan.js";
import { destroyCluster } from "./cluster-destroy.js";
import { clusterInfo } from "./cluster-list.js";
import { type ClusterLayout, type ClusterRecord, clusterLayout, clusterNames, clusterRoot, nodeLayout } from "./cluster-state.js";
import { defaultVmTimeoutMs, goneReason, requireQemu, resolveImage, startQemu } from "./create.js";
import { diskRawOf, prepareDisk } from "./disk.js";
import { requireDnsmasq, startDnsmasq } from "./dnsmasq.js";
import { clusterLinks, createBridge, createTap, hostNetworks, ip } from "./host-net.js";
import { listVms } from "./list.js";
import type { VmRecord } from "./state.js";

/** Creates cluster `opts.name`; resolves once every machine's API answers. */
export async function createCluster(opts: ClusterCreateOptions): Promise<ClusterInfo> {
  const progress = opts.onProgress ?? (() => {});
  checkName(opts.name);
  requireDnsmasq();
  requireQemu();
  ip(["-V"]);
  const image = resolveImage({ imageDir: opts.imageDir ?? defaultImage() }, progress);
  if (opts.diskBytes !== undefined) diskRawOf(image);
  const layout = clusterLayout(opts.name);
  const rec = await claim(opts, layout, image);
  try {
    await bringUp(opts, layout, rec, progress);
  } catch (err) {
    progress("cleaning up");
    await destroyCluster(opts.name, { graceMs: 0 }).catch(() => {});
    throw err;
  }
  rec.status = "running";
  writeRecord(layout, rec);
  return clusterInfo(rec, layout);
}

/** The last image `kilnctl image build` made, or an error saying how to get one. */
function defaultImage(): string {
  const last = lastImage();
  if (last) return last.out;
  throw new Error("no image to boot: pass --image DIR, or build one with kilnctl image build --out DIR (cluster create then uses it by default)");
}

/** Under the clusters' lock: refuses a name in use, picks the /24 and writes cluster.json ("creating"). */
async function claim(opts: ClusterCreateOptions, layout: ClusterLayout, image: string): Promise<ClusterRecord> {
  mkdirSync(clusterRoot(), { recursive: true, mode: 0o700 });
  return withFileLock(join(clusterRoot(), ".lock"), () => {
    if (readRecord<ClusterRecord>(layout)) {
      throw new Error(`a cluster named "${opts.name}" already exists (${layout.dir}); destroy it first with kilnctl cluster destroy ${opts.name}, or pick another name`);
    }
    if (listVms(opts.name).length > 0) throw new Error(`a qemu machine named "${opts.name}" exists; destroy it first or pick another name`);
    // Links are named after the cluster, not its state directory: another
    // KILN_CLUSTER_DIR's cluster of this name holds them, and a failed create
    // here must not remove them.
    const links = clusterLinks(opts.name);
    if (links.length > 0) {
      throw new Error(`the host already has cluster "${opts.name}"'s links (${links.join(", ")}), from a cluster of that name under another state directory or left behind; destroy it there (kilnctl cluster destroy ${opts.name} with its KILN_CLUSTER_DIR), delete the links with ip link delete, or pick another name`);
    }
    const plan = planCluster(opts.name, chooseSubnet([...hostNetworks(), ...otherClusters()]), opts.controlplanes, opts.workers);
    mkdirSync(layout.nodes, { recursive: true, mode: 0o700 });
    const rec: ClusterRecord = { name: opts.name, provisioner: "qemu", status: "creating", plan, image, createdAt: new Date().toISOString() };
    writeRecord(layout, rec);
    return rec;
  });
}

/** The /24s other kiln clusters hold. */
function otherClusters(): Net[] {
  return clusterNames().flatMap((n) => {
    const subnet = readRecord<ClusterRecord>(clusterLayout(n))?.plan.subnet;
    const net = subnet ? parseNet(subnet) : undefined;
    return net ? [net] : [];
  });
}

/** Configs, network, dnsmasq, VMs, and the wait for every API. */
async function bringUp(opts: ClusterCreateOptions, layout: ClusterLayout, rec: ClusterRecord, progress: (s: string) => void): Promise<void> {
  const { plan } = rec;
  progress("generating machine configs");
  const configs = await opts.configsFor(plan);
  progress(`creating bridge ${plan.bridge} (${plan.subnet})`);
  createBridge(plan);
  for (const n of plan.nodes) createTap(plan.bridge, n.tap);
  progress("starting dnsmasq");
  rec.dnsmasq = await startDnsmasq(plan, layout);
  writeRecord(layout, rec);
  const vms: VmRecord[] = [];
  for (const n of plan.nodes) vms.push(await startNode(opts, layout, rec, n, configs[n.name]));
  progress(`waiting for ${plan.nodes.length} machine APIs`);
  await Promise.all(vms.map((vm) => waitForNode(opts, layout, vm)));
}

/** Direct kernel boot of the image, or (with diskBytes) the node's own grown copy of its disk.raw. */
function bootFrom(opts: ClusterCreateOptions, image: string, dir: string, progress: (s: string) => void): { disk: string } | { kernel: string; initramfs: string; cmdline: string } {
  if (opts.diskBytes === undefined) {
    return { kernel: join(image, "kernel"), initramfs: join(image, "initramfs"), cmdline: readFileSync(join(image, "cmdline"), "utf8").trim() };
  }
  const disk = join(dir, "disk.raw");
  progress("preparing the disk");
  prepareDisk(diskRawOf(image), disk, opts.diskBytes);
  return { disk };
}

/** Writes node `n`'s config and starts its VM on its tap. */
async function startNode(opts: ClusterCreateOptions, layout: ClusterLayout, rec: ClusterRecord, n: PlannedNode, config: string | undefined): Promise<VmRecord> {
  if (config === undefined) throw new Error(`no machine config for node ${n.name}`);
  const vm = nodeLayout(layout, n.name);
  mkdirSync(vm.dir, { recursive: true, mode: 0o700 });
  writeFileSync(vm.config, config, { mode: 0o600 });
  const progress = (s: string) => opts.onProgress?.(`${n.name}: ${s}`);
  const base = {
    name: `${rec.name}-${n.name}`,
    ...bootFrom(opts, rec.image, vm.dir, progress),
    memoryMb: opts.memoryMb ?? 2048,
    cpus: opts.cpus ?? 2,
    consoleLog: vm.consoleLog,
    monitor: vm.monitor,
    tap: { ifname: n.tap, mac: n.mac },
    fwCfgConfig: vm.config,
  };
  const { child, accel } = await startQemu(vm, base, progress);
  const ref = procRef(child.pid!);
  const record: VmRecord = {
    name: n.name,
    provisioner: "qemu",
    endpoint: `${n.address}:${apidPort}`,
    localEndpoint: "",
    address: n.address,
    pid: child.pid!,
    status: "running",
    stateDir: vm.dir,
    consoleLog: vm.consoleLog,
    port: 0,
    accel,
    image: rec.image,
    configVia: "fw_cfg",
    ...(ref ? { qemu: ref } : {}),
  };
  writeRecord(vm, record);
  return record;
}

/** Waits until node `vm`'s apid answers over mTLS on its own address. */
async function waitForNode(opts: ClusterCreateOptions, layout: ClusterLayout, vm: VmRecord): Promise<void> {
  const nl = nodeLayout(layout, vm.name);
  const parsed = parseConfig(readFileSync(nl.config, "utf8"));
  const access = accessFor("config" in parsed ? parsed.config : undefined);
  try {
    await waitForApid({ address: vm.address }, access, {
      timeoutMs: opts.timeoutMs ?? defaultVmTimeoutMs,
      gone: () => goneReason(vm, nl),
      wantConfigured: access.t === "mtls",
    });
  } catch (err) {
    throw new Error(`node ${vm.name} (${vm.address}) did not come up: ${(err as Error).message}\n--- ${nl.consoleLog} (last lines) ---\n${tail(nl.consoleLog) || "(empty)"}`, { cause: err });
  }
}
