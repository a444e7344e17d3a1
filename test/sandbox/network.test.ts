// Sandbox networking, end to end through kilnctl with the real machined: each
// sandbox's veth pair and /30, TCP between the host and a listener inside the
// sandbox's network namespace, the same link and address after `kilnctl
// reboot`, and the address given back on destroy, also after a crash. Touches
// only the sandboxes' own namespaces and their kiln-N interfaces. Needs root
// and a build (`npx tsx hack/build.ts`); on CI their absence fails.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { createServer, connect } from "node:net";
import t, { type Test } from "tap";
import { readLeases } from "../../src/provision/sandbox/leases.js";
import { isAlive, type ProcRef } from "../../src/provision/sandbox/proc.js";
import { alive, consoleTail, inSandbox, kilnctl, kilnctlBin, type Sandbox, waitFor } from "./sandbox-helpers.js";

const isRoot = process.getuid?.() === 0;
const skip = !isRoot && process.env.CI !== "true" && "needs root (namespaces, veth pairs)";
const names = ["t-net-a", "t-net-b", "t-net-crash"];

/** `kilnctl cluster create --name NAME -o json`, without blocking the event loop. */
function create(name: string): Promise<Sandbox> {
  return new Promise((resolve, reject) => {
    const args = [kilnctlBin, "cluster", "create", "--provisioner", "sandbox", "--name", name, "-o", "json"];
    // Without tap's NODE_OPTIONS: its loaders would slow kilnctl and the host program it starts.
    const { NODE_OPTIONS: _, ...env } = process.env;
    const c = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env });
    let out = "";
    let err = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    c.stderr.on("data", (d: Buffer) => (err += d.toString()));
    c.on("close", (code) => (code === 0 ? resolve(JSON.parse(out) as Sandbox) : reject(new Error(`cluster create ${name} exited ${code}: ${err}`))));
  });
}

/** The host program's record of a machine (machine.json). */
function record(sb: Sandbox): { host: ProcRef; network?: { link: string; hostAddress: string } } {
  return JSON.parse(readFileSync(`${sb.stateDir}/machine.json`, "utf8"));
}

/** `ip -j ARGS` in the network namespace of `pid` (or on the host), parsed. */
function ipJson<T>(pid: number | undefined, args: string[]): T {
  const argv = pid === undefined ? ["ip", "-j", ...args] : ["nsenter", "-t", String(pid), "-n", "ip", "-j", ...args];
  return JSON.parse(execFileSync(argv[0]!, argv.slice(1), { encoding: "utf8" })) as T;
}

interface IpAddr {
  ifname: string;
  operstate: string;
  flags: string[];
  addr_info: { family: string; local: string; prefixlen: number }[];
}

/** IPv4 addresses of an interface, "a.b.c.d/len". */
function v4(pid: number | undefined, dev: string): string[] {
  const [link] = ipJson<IpAddr[]>(pid, ["addr", "show", "dev", dev]);
  return link!.addr_info.filter((a) => a.family === "inet").map((a) => `${a.local}/${a.prefixlen}`);
}

/** A TCP server inside the sandbox's network namespace (the host's node, nsenter -n) that answers with what it saw. */
async function listenInside(sb: Sandbox, port: number, t: Test): Promise<void> {
  const js = `require("net").createServer((c) => c.end(JSON.stringify({ from: c.remoteAddress, to: c.localAddress }))).listen(${port}, "0.0.0.0", () => console.log("listening"))`;
  const c = spawn("nsenter", ["-t", String(sb.pid), "-n", process.execPath, "-e", js], { stdio: ["ignore", "pipe", "inherit"], env: { PATH: process.env.PATH } });
  t.teardown(() => c.kill("SIGKILL"));
  await new Promise((resolve, reject) => {
    c.stdout.once("data", resolve);
    c.once("exit", (code) => reject(new Error(`the listener in ${sb.name} exited ${code}`)));
  });
}

/** Connects to host:port and returns what the other end wrote before closing. */
function fetchTcp(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, timeout: 5000 });
    let got = "";
    s.on("data", (d) => (got += d.toString()));
    s.on("end", () => resolve(got));
    s.on("timeout", () => s.destroy(new Error(`no answer from ${host}:${port} within 5 s`)));
    s.on("error", reject);
  });
}

/** Opens and closes a TCP connection: "accepted", "refused", or a rejection on any other outcome. */
function tcpConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, timeout: 5000 });
    s.on("connect", () => {
      s.destroy();
      resolve("accepted");
    });
    s.on("timeout", () => s.destroy(new Error(`no answer from ${host}:${port} within 5 s`)));
    s.on("error", (err: NodeJS.ErrnoException) => (err.code === "ECONNREFUSED" ? resolve("refused") : reject(err)));
  });
}

/** From inside the sandbox's namespace: connects to host:port and resolves with the answer (async: the server may be ours). */
function fetchFromInside(sb: Sandbox, host: string, port: number): Promise<string> {
  const js = `const s = require("net").connect(${port}, "${host}"); let g = ""; s.on("data", (d) => (g += d)); s.on("end", () => console.log(g)); s.on("error", (e) => { console.error(e.message); process.exit(1); })`;
  const c = spawn("nsenter", ["-t", String(sb.pid), "-n", process.execPath, "-e", js], { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH }, timeout: 10_000 });
  let out = "";
  let err = "";
  c.stdout.on("data", (d: Buffer) => (out += d.toString()));
  c.stderr.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => c.on("close", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`connecting from ${sb.name} to ${host}:${port}: ${err.trim() || code}`)))));
}

/** Checks the wiring of one boot: both ends, addresses, route, lease. */
function checkLink(t: Test, sb: Sandbox): string {
  const net = record(sb).network!;
  t.match(net.link, /^kiln-\d+$/, "the host end is kiln-N");
  t.ok(net.link.length <= 15);
  t.same(v4(undefined, net.link), [`${net.hostAddress}/30`], "the host end holds .1 of the /30");
  t.match(ipJson<IpAddr[]>(undefined, ["addr", "show", "dev", net.link])[0], { operstate: "UP" });
  t.same(v4(sb.pid, "eth0"), [`${sb.address}/30`], "eth0 inside holds .2");
  t.match(ipJson<IpAddr[]>(sb.pid, ["addr", "show", "dev", "eth0"])[0], { operstate: "UP" });
  t.ok(ipJson<IpAddr[]>(sb.pid, ["addr", "show", "dev", "lo"])[0]!.flags.includes("UP"), "lo is up inside");
  const routes = ipJson<{ dst: string; gateway?: string; dev: string }[]>(sb.pid, ["route", "show", "default"]);
  t.match(routes, [{ dst: "default", gateway: net.hostAddress, dev: "eth0" }], "the default route goes via the host end");
  t.equal(routes.length, 1, "and it is the only one");
  t.ok(readLeases().some((l) => l.stateDir === sb.stateDir && l.address === sb.address), "the lease is recorded");
  return net.link;
}

const machines = new Map<string, Sandbox>();

t.before(() => {
  for (const n of names) kilnctl(["cluster", "destroy", "--name", n]);
});
t.teardown(() => {
  for (const n of names) kilnctl(["cluster", "destroy", "--name", n]);
});
t.afterEach((t) => {
  if (t.passing()) return;
  for (const sb of machines.values()) t.comment(`console of ${sb.name}:\n${consoleTail(sb)}`);
});

t.test("two sandboxes created at once get distinct addresses, each on its own veth pair", { skip }, async (t) => {
  if (!isRoot) return void t.fail("needs root");
  const [a, b] = await Promise.all([create("t-net-a"), create("t-net-b")]);
  machines.set("a", a!).set("b", b!);
  for (const sb of [a!, b!]) {
    t.match(sb, { provisioner: "sandbox", status: "running", localEndpoint: `unix://${sb.stateDir}/machined.sock` });
    t.match(sb.address, /^10\.213\.\d+\.\d+$/);
    t.equal(sb.endpoint, `${sb.address}:50000`, "endpoint is apid's HOST:PORT");
    t.same(Object.keys(sb).sort(), ["address", "consoleLog", "endpoint", "localEndpoint", "name", "pid", "provisioner", "stateDir", "status"]);
  }
  t.not(a!.address, b!.address, "distinct addresses");
  t.not(checkLink(t, a!), checkLink(t, b!), "distinct host interfaces");
  t.not(readlinkSync(`/proc/${a!.pid}/ns/net`), readlinkSync("/proc/self/ns/net"), "not the host's network namespace");
  t.not(readlinkSync(`/proc/${a!.pid}/ns/net`), readlinkSync(`/proc/${b!.pid}/ns/net`), "nor each other's");
});

t.test("the host reaches a TCP listener inside the sandbox over the veth, and back", { skip }, async (t) => {
  if (!isRoot) return void t.fail("needs root");
  const a = machines.get("a")!;
  const hostAddress = record(a).network!.hostAddress;
  await listenInside(a, 7000, t);
  t.same(JSON.parse(await fetchTcp(a.address, 7000)), { from: hostAddress, to: a.address }, "host .1 → sandbox .2");
  const server = createServer((c) => c.end(`hello ${c.remoteAddress}`));
  await new Promise<void>((r) => server.listen(7001, hostAddress, r));
  t.teardown(() => server.close());
  t.equal(await fetchFromInside(a, hostAddress, 7001), `hello ${a.address}`, "sandbox .2 → host .1");
  t.match(await tcpConnect(a.address, 50000), /^(accepted|refused)$/, "port 50000 answers at once: apid accepts, or the kernel refuses before apid runs");
});

t.test("after kilnctl reboot the sandbox has a new namespace with the same link and address", { skip }, async (t) => {
  if (!isRoot) return void t.fail("needs root");
  const a = machines.get("a")!;
  const before = { link: record(a).network!.link };
  // Marks the old namespace: a freed namespace's inode number is soon reused, so comparing inodes proves nothing.
  t.equal(inSandbox(a, ["-n"], ["sh", "-c", "echo 33 > /proc/sys/net/ipv4/ip_default_ttl"]).code, 0, "the old namespace is marked");
  const r = kilnctl(["-e", a.localEndpoint, "reboot"]);
  t.equal(r.code, 0, r.stderr);
  await waitFor("the old PID 1 to go", () => !alive(a.pid), 20_000);
  const again = await waitFor("the machine to come back", () => {
    const m = (JSON.parse(kilnctl(["cluster", "show", "--name", "t-net-a", "-o", "json"]).stdout) as Sandbox[])[0];
    return m && m.pid !== a.pid && alive(m.pid) && kilnctl(["-e", m.localEndpoint, "version"]).code === 0 ? m : undefined;
  }, 30_000, 250);
  machines.set("a", again);
  t.match(again, { address: a.address, endpoint: a.endpoint, localEndpoint: a.localEndpoint }, "same address and endpoints");
  t.equal(inSandbox(again, ["-n"], ["cat", "/proc/sys/net/ipv4/ip_default_ttl"]).stdout.trim(), "64", "a fresh network namespace, without the old one's mark");
  t.equal(checkLink(t, again), before.link, "the same host interface, wired again");
  await listenInside(again, 7002, t);
  t.match(JSON.parse(await fetchTcp(again.address, 7002)), { to: a.address }, "reachable again");
});

t.test("destroy gives the address back and the veth goes with the namespace", { skip }, async (t) => {
  if (!isRoot) return void t.fail("needs root");
  const b = machines.get("b")!;
  const link = record(b).network!.link;
  const r = kilnctl(["cluster", "destroy", "--name", "t-net-b"]);
  t.equal(r.code, 0, r.stderr);
  machines.delete("b");
  t.notOk(readLeases().some((l) => l.stateDir === b.stateDir), "no lease left");
  await waitFor(`${link} to go`, () => !existsSync(`/sys/class/net/${link}`), 5000, 20);
  t.pass(`${link} is gone`);
});

t.test("a crashed host program's address is not handed out while its interface lives, and destroy reclaims it", { skip }, async (t) => {
  if (!isRoot) return void t.fail("needs root");
  const c = await create("t-net-crash");
  machines.set("crash", c);
  const { host, network } = record(c);
  process.kill(host.pid, "SIGKILL");
  await waitFor("the host program to die", () => !isAlive(host), 5000, 20);
  t.ok(alive(c.pid) && existsSync(`/sys/class/net/${network!.link}`), "its sandbox and interface live on");
  const b = await create("t-net-b");
  machines.set("b", b);
  t.not(b.address, c.address, "a new machine gets another address");
  t.equal(kilnctl(["cluster", "destroy", "--name", "t-net-crash"]).code, 0);
  machines.delete("crash");
  t.notOk(readLeases().some((l) => l.stateDir === c.stateDir), "the stale lease is gone");
});
