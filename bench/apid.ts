// The remote API's benchmarks: ServiceList through apid over mTLS on a veth
// against a bare grpc-js server with the same TLS (and against machined's own
// socket), with the log flood stopped and, apart, while it runs; logs -f
// throughput with machined's and apid's RSS; apid's idle RSS.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import * as grpc from "@grpc/grpc-js";
import YAML from "yaml";
import { createClient } from "../src/grpc/client.js";
import { MachineService, ServiceState } from "../src/gen/kiln/machine/v1/machine_pb.js";
import { scratchDir } from "../test/fixtures/scratch.js";

const root = resolve(import.meta.dirname, "..");
type Report = (name: string, kiln: number, floor: number, unit: string, more?: "better" | "worse") => void;
type Kilnctl = (args: string[]) => string;

const same = (b: Buffer) => b;
const median = (xs: number[]) => pct(xs, 50);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The RSS of a process, in MiB. */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) / 1024;
}

/** Host PID of the process in the sandbox whose command line contains `needle`. */
function hostPid(sandboxPid: number, needle: string): number {
  const children = readFileSync(`/proc/${sandboxPid}/task/${sandboxPid}/children`, "utf8").trim().split(/\s+/).map(Number);
  const pid = children.find((p) => readFileSync(`/proc/${p}/cmdline`, "utf8").includes(needle));
  if (!pid) throw new Error(`no ${needle} in the sandbox`);
  return pid;
}

/** mTLS credentials from the generated kilnconfig's context. */
function credentials(dir: string): { creds: grpc.ChannelCredentials; ca: Buffer; crt: Buffer; key: Buffer } {
  const cfg = YAML.parse(readFileSync(join(dir, "kilnconfig"), "utf8")) as { context: string; contexts: Record<string, { ca: string; crt: string; key: string }> };
  const ctx = cfg.contexts[cfg.context]!;
  const [ca, crt, key] = [ctx.ca, ctx.crt, ctx.key].map((b) => Buffer.from(b, "base64")) as [Buffer, Buffer, Buffer];
  return { creds: grpc.credentials.createSsl(ca, key, crt), ca, crt, key };
}

/** CPU time (user + system) a process has used, in ms (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Sequential calls: latencies (ms), calls per second, and the CPU `server` spent per call (µs), less noisy than time on a shared machine. */
async function measure(n: number, call: () => Promise<unknown>, server?: number): Promise<{ p50: number; p99: number; rate: number; cpuUs: number }> {
  for (let i = 0; i < 50; i++) await call(); // warm up the connection and the JIT
  const lat: number[] = [];
  const cpu0 = server ? cpuMs(server) : 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await call();
    lat.push(performance.now() - s);
  }
  const cpuUs = server ? ((cpuMs(server) - cpu0) * 1000) / n : 0;
  return { p50: pct(lat, 50), p99: pct(lat, 99), rate: n / ((performance.now() - t0) / 1000), cpuUs };
}

/** The flood service: writes to stdout as fast as its pipe takes it. */
const flood = `
    - id: flood
      command: ["/usr/bin/node", "-e", "const b = Buffer.alloc(65536, 120); for (let i = 1023; i < b.length; i += 1024) b[i] = 10; const w = () => { while (process.stdout.write(b)); process.stdout.once('drain', w); }; w();"]
      restart: forever
`;

export async function apidBenchmarks(report: Report, kilnctl: Kilnctl): Promise<void> {
  const dir = scratchDir("kiln-bench-apid-");
  kilnctl(["gen", "config", "--name", "bench", "--endpoint", "127.0.0.1", "--out", dir]);
  const worker = readFileSync(join(dir, "standalone.yaml"), "utf8");
  writeFileSync(join(dir, "bench.yaml"), worker.replace(/^machine:\n/m, "machine:\n  services:\n" + flood.replace(/^\n/, "")));
  try {
    kilnctl(["cluster", "destroy", "--name", "bench-apid"]);
  } catch {}
  const info = JSON.parse(kilnctl(["cluster", "create", "--provisioner", "sandbox", "--name", "bench-apid", "--config", join(dir, "bench.yaml"), "-o", "json"])) as { pid: number; endpoint: string; address: string; localEndpoint: string };
  try {
    await run(report, dir, info);
  } finally {
    kilnctl(["cluster", "destroy", "--name", "bench-apid"]);
  }
}

async function run(report: Report, dir: string, info: { pid: number; endpoint: string; address: string; localEndpoint: string }): Promise<void> {
  const { creds, ca } = credentials(dir);
  const client = createClient(MachineService, info.endpoint, creds);
  for (let i = 0; i < 100; i++) {
    try {
      await client.version({}, { timeoutMs: 2000 });
      break;
    } catch {
      await sleep(200);
    }
  }
  await sleep(3000);
  const apidPid = hostPid(info.pid, "apid.cjs");
  const floorRss = await bareNodeRss();
  report("apid RSS idle (vs bare idle node)", rssMiB(apidPid), floorRss, "MiB");

  const local = createClient(MachineService, info.localEndpoint, grpc.credentials.createInsecure());
  // The flood keeps machined's loop busy (a core, on a small machine): measured with it running, ServiceList timed machined's log intake more than apid.
  const flooded = await measure(2000, () => client.serviceList({}));
  await setFlood(local, false);
  const kiln = await measure(2000, () => client.serviceList({}), apidPid);
  const direct = await measure(2000, () => local.serviceList({}));
  const floor = await emptyFloor(info, ca, creds);
  report("ServiceList via apid, p50 (vs bare grpc-js, same TLS, same veth)", kiln.p50, floor.p50, "ms");
  report("ServiceList via apid, p99 (vs bare grpc-js, same TLS, same veth)", kiln.p99, floor.p99, "ms");
  report("ServiceList via apid, calls/s (vs bare grpc-js)", kiln.rate, floor.rate, "calls/s", "better");
  report("ServiceList via apid, p50 (vs machined's own socket, no TLS)", kiln.p50, direct.p50, "ms");
  report("apid CPU per ServiceList call (vs the bare grpc-js server's per call)", kiln.cpuUs, floor.cpuUs, "µs");
  report("ServiceList via apid while a service floods its log, p50 (vs bare grpc-js)", flooded.p50, floor.p50, "ms");
  await setFlood(local, true);
  await logsThroughput(report, client, local, info.pid, apidPid, floorRss);
  local.close();
  client.close();
}

/** Stops or starts the flood service, and waits until it has. */
async function setFlood(local: Client, on: boolean): Promise<void> {
  await (on ? local.serviceStart({ id: "flood" }) : local.serviceStop({ id: "flood" }));
  const want = on ? ServiceState.RUNNING : ServiceState.FINISHED;
  for (let i = 0; i < 100; i++) {
    const [list] = (await local.serviceList({})).messages;
    if (list?.services.find((s) => s.id === "flood")?.state === want) return;
    await sleep(100);
  }
  throw new Error(`the flood service did not reach ${ServiceState[want]}`);
}

/** The bare server in the sandbox's network namespace, driven like apid. */
async function emptyFloor(info: { pid: number; address: string }, _ca: Buffer, creds: grpc.ChannelCredentials) {
  const tls = `/proc/${info.pid}/root/run/apid/tls`;
  const addr = `${info.address}:50001`;
  const server = spawn("nsenter", ["-t", String(info.pid), "-n", process.execPath, join(root, "bench/fixtures/empty-server.cjs"), addr, `${tls}/ca.crt`, `${tls}/server.crt`, `${tls}/server.key`], {
    env: { ...process.env, NODE_PATH: join(root, "node_modules") },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise((r) => server.stdout!.once("data", r));
  const Ctor = grpc.makeGenericClientConstructor({ empty: { path: "/bench.Bench/Empty", requestStream: false, responseStream: false, requestSerialize: same, requestDeserialize: same, responseSerialize: same, responseDeserialize: same, originalName: "empty" } }, "Bench");
  const c = new Ctor(addr, creds) as unknown as { empty(req: Buffer, cb: (err: Error | null) => void): void; close(): void };
  const call = () => new Promise<void>((ok, fail) => c.empty(Buffer.alloc(0), (err) => (err ? fail(err) : ok())));
  try {
    return await measure(2000, call, server.pid);
  } finally {
    c.close();
    server.kill();
  }
}

type Client = ReturnType<typeof createClient<typeof MachineService.method>>;

/**
 * logs -f of the flood service, 5 s at a time: one follow to warm up (the
 * first after the flood restarts runs fastest: 21, 17, 15 MiB/s in a row),
 * then three rounds, machined's socket and apid each going first in turn;
 * the medians of MiB/s delivered, and peak RSS of machined and apid.
 */
async function logsThroughput(report: Report, remote: Client, local: Client, machined: number, apid: number, floorRss: number): Promise<void> {
  const peak = { machined: 0, apid: 0 };
  const sample = () => {
    peak.machined = Math.max(peak.machined, rssMiB(machined));
    peak.apid = Math.max(peak.apid, rssMiB(apid));
  };
  const direct: number[] = [];
  const viaApid: number[] = [];
  await follow(local, () => {});
  for (let i = 0; i < 3; i++) {
    const pair = [async () => direct.push(await follow(local, () => {})), async () => viaApid.push(await follow(remote, sample))];
    for (const run of i % 2 === 0 ? pair.reverse() : pair) await run();
  }
  report("logs -f through apid over mTLS, MiB/s, median of 3 (vs the same stream from machined's socket, in turn)", median(viaApid), median(direct), "MiB/s", "better");
  report("machined peak RSS during logs -f via apid (vs bare idle node)", peak.machined, floorRss, "MiB");
  report("apid peak RSS during logs -f (vs bare idle node)", peak.apid, floorRss, "MiB");
}

/** Follows the flood service's log for 5 s; MiB/s received. `sample` runs every 200 ms. */
async function follow(client: Client, sample: () => void): Promise<number> {
  const ac = new AbortController();
  let bytes = 0;
  const sampler = setInterval(sample, 200);
  const t0 = performance.now();
  setTimeout(() => ac.abort(), 5000);
  try {
    for await (const m of client.logs({ id: "flood", follow: true, tailLines: 0 }, { signal: ac.signal })) bytes += m.data.length;
  } catch {
    // the abort ends the stream
  }
  clearInterval(sampler);
  return bytes / ((performance.now() - t0) / 1000) / 2 ** 20;
}

/** A bare idle node's RSS, the memory floor. */
async function bareNodeRss(): Promise<number> {
  const bare = spawn(process.execPath, ["-e", "setInterval(() => {}, 1e9)"]);
  await sleep(2000);
  const rss = rssMiB(bare.pid!);
  bare.kill();
  return rss;
}
