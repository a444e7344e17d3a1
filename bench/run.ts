// kiln's benchmarks. Each reports a ratio against a floor measured in the
// same run, on the same machine, so noise from neighbours cancels out.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { apidBenchmarks } from "./apid.js";
import { clusterBenchmarks } from "./cluster.js";
import { vmBenchmarks } from "./vm.js";
import { bundle } from "../src/image/bundle.js";
import { scratchDir } from "../test/fixtures/scratch.js";

const root = resolve(import.meta.dirname, "..");
const kilnctl = (args: string[]) => execFileSync(process.execPath, [join(root, "bin/kilnctl.js"), ...args], { encoding: "utf8" });
/** Removes a sandbox left by an earlier run, if there is one. */
const destroy = (name: string) => spawnSync(process.execPath, [join(root, "bin/kilnctl.js"), "cluster", "destroy", "--name", name]);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const results: { name: string; kiln: string; floor: string; ratio: number }[] = [];

/**
 * Records one benchmark line. The ratio always reads as a cost (1 = as good
 * as the floor, higher = worse): kiln/floor for times and sizes, floor/kiln
 * when more is better (rates).
 */
function report(name: string, kiln: number, floor: number, unit: string, more: "better" | "worse" = "worse"): void {
  const ratio = more === "worse" ? kiln / floor : floor / kiln;
  results.push({ name, kiln: `${kiln.toFixed(1)} ${unit}`, floor: `${floor.toFixed(1)} ${unit}`, ratio });
  console.error(`${name}: kiln ${kiln.toFixed(1)} ${unit}, floor ${floor.toFixed(1)} ${unit}, cost ratio ${ratio.toFixed(2)}`);
}

/** Wall time of a command, in ms. */
function timed(cmd: string, args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}`);
  return performance.now() - t0;
}

/** 10,000 orphans reaped: kiln's reaper as PID 1 vs tini as PID 1, same workload. */
async function reaping(): Promise<void> {
  const out = scratchDir("kiln-bench-");
  await build({ entryPoints: [join(root, "bench/fixtures/reaper-pid1.ts")], bundle: true, platform: "node", format: "cjs", outfile: join(out, "reaper.cjs"), external: ["koffi"], logLevel: "error", nodePaths: [join(root, "node_modules")] });
  const workload = `for i in $(seq 10000); do (true &); done; ${process.execPath} ${join(root, "bench/fixtures/no-zombies.cjs")}`;
  const ns = ["--pid", "--fork", "--mount-proc"];
  const env = { ...process.env, NODE_PATH: join(root, "node_modules") };
  const kiln: number[] = [];
  const tini: number[] = [];
  for (let i = 0; i < 3; i++) {
    tini.push(timed("unshare", [...ns, "tini", "-s", "--", "sh", "-c", workload]));
    const t0 = performance.now();
    const r = spawnSync("unshare", [...ns, process.execPath, join(out, "reaper.cjs"), "sh", "-c", workload], { env, stdio: "inherit" });
    if (r.status !== 0) throw new Error(`reaper benchmark exited ${r.status}`);
    kiln.push(performance.now() - t0);
  }
  report("reap 10,000 orphans (machined reaper vs tini)", median(kiln), median(tini), "ms");
}

/** The RSS of a process, in MiB. */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) / 1024;
}

/** machined idle with containerd running vs a bare idle node; and sandbox start time. */
async function sandbox(): Promise<void> {
  const starts: number[] = [];
  const floors: number[] = [];
  let rss = 0;
  for (let i = 0; i < 3; i++) {
    destroy("bench");
    floors.push(timed("unshare", ["--pid", "--fork", "--mount", "--uts", "--ipc", "--net", process.execPath, "-e", "0"]));
    const t0 = performance.now();
    const info = JSON.parse(kilnctl(["cluster", "create", "--provisioner", "sandbox", "--name", "bench", "--config", join(root, "examples/sandbox.yaml"), "-o", "json"])) as { pid: number; localEndpoint: string };
    starts.push(performance.now() - t0);
    if (i === 2) rss = await idleRss(info);
  }
  destroy("bench");
  report("sandbox start to API answering (vs node start in the same namespaces)", median(starts), median(floors), "ms");
  const bare = spawn(process.execPath, ["-e", "setInterval(() => {}, 1e9)"]);
  await new Promise((r) => setTimeout(r, 3000));
  const floor = rssMiB(bare.pid!);
  bare.kill();
  report("machined RSS idle with containerd running (vs bare idle node)", rss, floor, "MiB");
}

/** machined's RSS once containerd is healthy and things have settled. */
async function idleRss(info: { pid: number; localEndpoint: string }): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const s = JSON.parse(kilnctl(["-e", info.localEndpoint, "services", "-o", "json"])) as { id: string; healthy: boolean | null }[];
    if (s.some((x) => x.id === "containerd" && x.healthy === true)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 5000));
  return rssMiB(info.pid);
}

// The sandbox, the VM image and kilnctl run dist/'s bundles: bundle this tree first, so a run measures it and not an older build.
const bundled = await bundle({ root, requireAll: true });
console.error(`bundled ${bundled.built.join(", ")} into dist/`);
if (!process.argv.includes("--skip-reap")) await reaping();
if (!process.argv.includes("--skip-sandbox")) await sandbox();
if (!process.argv.includes("--skip-vm")) await vmBenchmarks(report);
if (!process.argv.includes("--skip-apid")) await apidBenchmarks(report, kilnctl);
if (!process.argv.includes("--skip-cluster")) await clusterBenchmarks(report);
// Every figure as a table, and as JSON on stdout and in bench/results.json (not tracked: each run writes its own).
console.table(results.map((r) => ({ ...r, ratio: Number(r.ratio.toFixed(2)) })));
const json = JSON.stringify(results, null, 2);
writeFileSync(join(root, "bench/results.json"), `${json}\n`);
console.log(json);
