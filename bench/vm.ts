// Benchmarks of the bootable image: build time (cold and warm cache), sizes,
// boot time to apid answering against a floor booted the same way (the same
// kernel with an initramfs whose /init is node printing one line), zstd vs
// xz initramfs, and machined's and apid's RSS in the VM.
import { execFileSync, spawn } from "node:child_process";
import { cpSync, createReadStream, readFileSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { basename, join, resolve } from "node:path";
import { type CpioEntry, writeCpio } from "../src/image/cpio.js";
import { nodeSegment, pad4 } from "../src/image/build-image.js";
import { freePort } from "../src/provision/qemu/create.js";
import { cacheRoot } from "../src/image/paths.js";
import { accelCandidates } from "../src/provision/qemu/accel.js";
import { scratchDir } from "../test/fixtures/scratch.js";
import { type ClientTls, grpcCredentials, probeServer } from "../src/pki/tls-client.js";
import { createClient } from "../src/grpc/client.js";
import { MachineService } from "../src/gen/kiln/machine/v1/machine_pb.js";
import { resolveModules } from "../src/machinery/modules-dep.js";
import { fetchKernel } from "../src/image/kernel.js";

export type Report = (name: string, kiln: number, floor: number, unit: string, more?: "better" | "worse") => void;

const root = resolve(import.meta.dirname, "..");
const kilnctlPath = join(root, "bin/kilnctl.js");
const MiB = 2 ** 20;

function kilnctl(args: string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(process.execPath, [kilnctlPath, ...args], { encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 1 << 26 });
}

function timedMs(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

/** Boots kernel+initramfs in QEMU; resolves with ms from spawn until `ready` says so. */
export async function bootUntil(accel: string, image: { kernel: string; initramfs: string }, ready: (console: string) => Promise<boolean> | boolean, port = 0): Promise<number> {
  const dir = scratchDir("kiln-boot-");
  const consoleLog = join(dir, "console.log");
  writeFileSync(consoleLog, "");
  const net = port ? ["-netdev", `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:50000`, "-device", "virtio-net-pci,netdev=n0,romfile="] : [];
  const t0 = performance.now();
  const qemu = spawn("qemu-system-x86_64", ["-accel", accel, "-cpu", accel === "kvm" ? "host" : "max", "-m", "2048", "-smp", "2", "-nodefaults", "-no-user-config", "-display", "none",
    "-serial", `file:${consoleLog}`, "-kernel", image.kernel, "-initrd", image.initramfs, "-append", "console=ttyS0 panic=-1 quiet", ...net, "-device", "virtio-rng-pci"], { stdio: "ignore" });
  try {
    for (;;) {
      if (await ready(readFileSync(consoleLog, "utf8"))) return performance.now() - t0;
      if (qemu.exitCode !== null) throw new Error(`QEMU exited: ${readFileSync(consoleLog, "utf8").slice(-2000)}`);
      if (performance.now() - t0 > 300_000) throw new Error("boot did not finish in 300 s");
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    qemu.kill("SIGKILL");
  }
}

/** KVM if a guest survives its first seconds under it (nested KVM may not), else TCG; as the provisioner decides. */
export async function workingAccel(kernel: string, initramfs: string): Promise<string> {
  for (const accel of accelCandidates()) {
    if (accel === "tcg") return accel;
    const q = spawn("qemu-system-x86_64", ["-accel", "kvm", "-cpu", "host", "-m", "512", "-nodefaults", "-display", "none", "-kernel", kernel, "-initrd", initramfs, "-append", "console=ttyS0"], { stdio: "ignore" });
    const died = await Promise.race([new Promise<boolean>((r) => q.once("exit", () => r(true))), new Promise<boolean>((r) => setTimeout(() => r(false), 4000))]);
    q.kill("SIGKILL");
    if (!died) return accel;
  }
  return "tcg";
}

/** The floor: the same kernel, an initramfs with node (same segment as the image) whose /init prints one line. */
export function floorInitramfs(): string {
  const out = join(scratchDir("kiln-floor-"), "initramfs");
  const init = writeCpio([{ path: "/init", type: "file", mode: 0o755, data: "#!/usr/bin/node\nconsole.log('floor: node is up');\nsetInterval(() => {}, 1e9);\n" }, { path: "/dev/console", type: "chardev", mode: 0o600, major: 5, minor: 1 }], { mtime: 0 });
  const seg = nodeSegment(cacheRoot(), "zstd", 0);
  writeFileSync(out, Buffer.concat([pad4(seg), init]));
  return out;
}

/**
 * Whether apid answers on the port (maintenance mode: no client certificate
 * needed): its HTTP/2 server completes a TLS handshake and sends SETTINGS,
 * then a Version call through it reaches machined. Probed from this process:
 * a kilnctl process per probe took most of a host core, which a boot under
 * TCG on 2 cores competes with and the floor's boot does not.
 */
export async function apidAnswers(port: number): Promise<boolean> {
  const tls: ClientTls = { host: "127.0.0.1", trust: { t: "any" } };
  try {
    await probeServer(tls, port, 2000);
  } catch {
    return false;
  }
  const { credentials, options } = grpcCredentials(tls);
  const client = createClient(MachineService, `127.0.0.1:${port}`, credentials, options);
  try {
    await client.version({}, { timeoutMs: 2000 });
    return true;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

export async function vmBenchmarks(report: Report): Promise<void> {
  // Build: cold (a fresh cache: the kernel package downloaded, everything packed) and warm.
  const cold = scratchDir("kiln-cache-cold-");
  const coldImage = join(cold, "image");
  const coldMs = timedMs(() => kilnctl(["image", "build", "--out", coldImage], { KILN_CACHE: cold }));
  const image = join(scratchDir("kiln-img-"), "image");
  kilnctl(["image", "build", "--out", image]);
  const warmMs = timedMs(() => kilnctl(["image", "build", "--out", image]));
  const copyMs = timedMs(() => cpSync(image, `${image}-copy`, { recursive: true }));
  report("image build, cold cache incl. kernel download (vs copying the outputs)", coldMs, copyMs, "ms");
  report("image build, warm cache (vs copying the outputs)", warmMs, copyMs, "ms");
  const sqsh = statSync(join(image, "rootfs.sqsh")).size / MiB;
  const initramfs = statSync(join(image, "initramfs")).size / MiB;
  report("rootfs.sqsh size (vs Talos's published rootfs, 80 MB)", sqsh, 80e6 / MiB, "MiB");
  const nodeSeg = nodeSegment(cacheRoot(), "zstd", 0).length / MiB;
  report("initramfs size (vs its floor: node compressed + rootfs.sqsh)", initramfs, nodeSeg + sqsh, "MiB");

  // Boot: QEMU start to apid answering vs QEMU start to node's first line.
  const kernel = join(image, "kernel");
  const accel = await workingAccel(kernel, join(image, "initramfs"));
  console.error(`vm benchmarks under ${accel}`);
  const floors: number[] = [];
  const boots: number[] = [];
  for (let i = 0; i < 3; i++) {
    floors.push(await bootUntil(accel, { kernel, initramfs: floorInitramfs() }, (c) => c.includes("floor: node is up")));
    const port = await freePort();
    boots.push(await bootUntil(accel, { kernel, initramfs: join(image, "initramfs") }, () => apidAnswers(port), port));
  }
  report(`boot (${accel}): QEMU start to apid answering (vs the same kernel booting node printing a line)`, median(boots), median(floors), "ms");

  // zstd vs xz: the same image with an xz initramfs, booted the same way.
  const xzImage = join(scratchDir("kiln-img-xz-"), "image");
  kilnctl(["image", "build", "--out", xzImage, "--compress", "xz"]);
  const xzPort = await freePort();
  const xzBoot = await bootUntil(accel, { kernel, initramfs: join(xzImage, "initramfs") }, () => apidAnswers(xzPort), xzPort);
  report("boot with an xz initramfs (vs zstd)", xzBoot, median(boots), "ms");

  await rebootModes(report, image);

  // RSS in the VM after boot, configured, containerd healthy.
  const gen = scratchDir("kiln-bench-gen-");
  kilnctl(["gen", "config", "--name", "bench-vm", "--endpoint", "127.0.0.1", "--out", gen]);
  try {
    const info = JSON.parse(kilnctl(["cluster", "create", "--provisioner", "qemu", "--name", "bench-vm", "--image", image, "--config", join(gen, "standalone.yaml"), "-o", "json"])) as { endpoint: string };
    const on = (args: string[]) => kilnctl(["-e", info.endpoint, ...args], { KILNCONFIG: join(gen, "kilnconfig") });
    for (let i = 0; i < 120; i++) {
      const s = JSON.parse(on(["services", "-o", "json"])) as { id: string; healthy: boolean | null }[];
      if (s.some((x) => x.id === "containerd" && x.healthy === true)) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    await new Promise((r) => setTimeout(r, 10_000));
    // residentMemory is a uint64: a string in protobuf JSON.
    const procs = JSON.parse(on(["processes", "-o", "json"])) as { pid: number; residentMemory: string; args: string }[];
    const rss = (p: { residentMemory: string } | undefined) => Number(p?.residentMemory ?? 0);
    const machined = rss(procs.find((p) => p.pid === 1)) / MiB;
    const apid = rss(procs.find((p) => p.args.includes("apid.cjs")));
    const containerd = rss(procs.find((p) => p.args.startsWith("/usr/bin/containerd") || p.args.startsWith("containerd")));
    report("machined RSS in the VM after boot (vs containerd's)", machined, containerd / MiB, "MiB");
    report("apid RSS in the VM after boot (vs containerd's)", apid / MiB, containerd / MiB, "MiB");
  } finally {
    try {
      kilnctl(["cluster", "destroy", "--name", "bench-vm"], { KILNCONFIG: join(gen, "kilnconfig") });
    } catch {
      // already gone
    }
  }

}

/** On a disk-booted VM: reboot by kexec vs a full reboot through firmware and GRUB, then an upgrade and its parts. */
export async function rebootModes(report: Report, image: string): Promise<void> {
  const gen = scratchDir("kiln-bench-reboot-");
  kilnctl(["gen", "config", "--name", "bench-reboot", "--endpoint", "127.0.0.1", "--out", gen]);
  const env = { KILNCONFIG: join(gen, "kilnconfig") };
  // The upgrade's bundle: the same build with a newer version.
  const newer = join(gen, "image-newer");
  kilnctl(["image", "build", "--out", newer, "--version", "99.0.0"]);
  const bundle = join(newer, "kiln-upgrade.tar");
  let uploadMs = Number.NaN;
  try {
    const info = JSON.parse(kilnctl(["cluster", "create", "--provisioner", "qemu", "--name", "bench-reboot", "--image", image, "--disk", "2G", "--config", join(gen, "standalone.yaml"), "-o", "json"])) as { endpoint: string };
    const on = (args: string[]) => kilnctl(["-e", info.endpoint, ...args], env);
    const bootId = () => {
      try {
        return on(["read", "/proc/sys/kernel/random/boot_id", "--timeout", "5s"]).trim();
      } catch {
        return "";
      }
    };
    const rebootMs = async (mode: string) => {
      const before = bootId();
      const t0 = performance.now();
      on(["reboot", "--mode", mode]);
      for (;;) {
        const id = bootId();
        if (id && id !== before) return performance.now() - t0;
        if (performance.now() - t0 > 300_000) throw new Error(`reboot --mode ${mode} did not come back in 300 s`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    };
    const powercycle = await rebootMs("powercycle");
    const kexec = await rebootMs("default");
    report("reboot --mode default (kexec) until the API answers (vs --mode powercycle)", kexec, powercycle, "ms");
    const phases = await timedUpgrade(["-e", info.endpoint, "upgrade", "--image", bundle, "--wait"], env);
    const at = (p: string) => phases.get(p) ?? Number.NaN;
    report("upgrade end to end: upload to committed on the new slot (vs a powercycle reboot)", at("end"), powercycle, "ms");
    report("upgrade part: upload of the bundle (vs a powercycle reboot)", at("verify") - at("upload"), powercycle, "ms");
    report("upgrade part: verify and write the slot (vs a powercycle reboot)", at("reboot") - at("verify"), powercycle, "ms");
    report("upgrade part: reboot into the trial until committed (vs a powercycle reboot)", at("end") - at("reboot"), powercycle, "ms");
    uploadMs = at("verify") - at("upload");
  } finally {
    try {
      kilnctl(["cluster", "destroy", "--name", "bench-reboot"], env);
    } catch {
      // already gone
    }
  }
  // The floor boots once the machine is gone: no second VM takes the cores.
  const mib = statSync(bundle).size / MiB;
  const raw = await rawTcpFloor(bundle);
  report(`upgrade upload rate, ${mib.toFixed(0)} MiB bundle (vs one raw TCP stream of it into node in a VM through the same kind of forward; median of 3)`, mib / (uploadMs / 1000), mib / (raw / 1000), "MiB/s", "better");
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * The upload's floor: ms (median of 3) to send `file` over one TCP
 * connection through QEMU's user-mode forward, as a single-node cluster's
 * apid is reached, into node in a VM (the same kernel, NIC, vCPUs and
 * memory) that counts the bytes and answers the count. Its initramfs is the
 * boot floor's node plus busybox to load virtio_net and address the NIC.
 */
async function rawTcpFloor(file: string): Promise<number> {
  const kernel = fetchKernel({ cacheDir: join(cacheRoot(), "kernel") });
  const port = await freePort();
  const times: number[] = [];
  await bootUntil(await workingAccel(kernel.vmlinuz, floorInitramfs()), { kernel: kernel.vmlinuz, initramfs: sinkInitramfs(kernel.modulesDir) }, async (console) => {
    if (!console.includes("sink: listening")) return false;
    for (let i = 0; i < 3; i++) times.push(await rawTcpMs("127.0.0.1", port, file));
    return true;
  }, port);
  return median(times);
}

/** The sink VM's initramfs: node, busybox, virtio_net and what it needs, and an /init that addresses eth0 as QEMU's user network expects and runs the sink. */
function sinkInitramfs(modulesDir: string): string {
  const out = join(scratchDir("kiln-sink-"), "initramfs");
  const modules = resolveModules(modulesDir, ["virtio_pci", "virtio_net"]);
  const sink = "require('net').createServer((s) => { let n = 0; s.on('data', (b) => (n += b.length)); s.on('end', () => s.end(String(n))); s.on('error', () => {}); }).listen(50000, () => console.log('sink: listening'));";
  const init = ["#!/bin/busybox sh", ...modules.map((m) => `/bin/busybox insmod /m/${basename(m)}`), "/bin/busybox ip link set eth0 up", "/bin/busybox ip addr add 10.0.2.15/24 dev eth0", `exec /usr/bin/node -e "${sink}"`, ""].join("\n");
  const entries: CpioEntry[] = [
    { path: "/init", type: "file", mode: 0o755, data: init },
    { path: "/bin/busybox", type: "file", mode: 0o755, data: readFileSync("/bin/busybox") },
    ...modules.map((m): CpioEntry => ({ path: `/m/${basename(m)}`, type: "file", mode: 0o644, data: readFileSync(m) })),
    { path: "/dev/console", type: "chardev", mode: 0o600, major: 5, minor: 1 },
  ];
  writeFileSync(out, Buffer.concat([pad4(nodeSegment(cacheRoot(), "zstd", 0)), writeCpio(entries, { mtime: 0 })]));
  return out;
}

/** ms to send `file` over one TCP connection to host:port and hear the sink's byte count back. */
function rawTcpMs(host: string, port: number, file: string): Promise<number> {
  const size = statSync(file).size;
  return new Promise<number>((resolve, reject) => {
    const t0 = performance.now();
    const sock = connect(port, host, () => createReadStream(file).pipe(sock));
    let reply = "";
    sock.setEncoding("utf8");
    sock.on("data", (s: string) => (reply += s));
    sock.on("error", reject);
    sock.on("end", () => (Number(reply) === size ? resolve(performance.now() - t0) : reject(new Error(`the sink counted ${reply || "nothing"} of ${size} bytes`))));
  });
}

/** Runs `kilnctl upgrade`, timing the first line of each phase it prints (`kilnctl: [phase] …`), and its end. */
function timedUpgrade(args: string[], env: NodeJS.ProcessEnv): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [kilnctlPath, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
    let tail = "";
    child.stderr.on("data", (b: Buffer) => {
      tail += b.toString();
      for (const m of tail.matchAll(/\[([a-z]+)\]/g)) if (!seen.has(m[1]!)) seen.set(m[1]!, performance.now() - t0);
      tail = tail.slice(-200);
    });
    child.on("exit", (code) => {
      seen.set("end", performance.now() - t0);
      if (!seen.has("upload")) seen.set("upload", 0);
      code === 0 ? resolve(seen) : reject(new Error(`kilnctl ${args.join(" ")} exited ${code}: ${tail}`));
    });
  });
}
