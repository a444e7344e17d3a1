// -n n1,n2: one call through one apid reaches several machines, rows tagged
// with their node, and only its peers. Two sandboxes of one cluster (one
// machine CA); the host routes between their /30s for the length of the test
// only. a starts with the default peers (its own /30), so b is not one until
// a's config names it.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { createSandbox, destroySandbox, kilnctl, type Sandbox, waitFor } from "./sandbox-helpers.js";
import { scratchDir } from "../fixtures/scratch.js";

const dir = scratchDir("kiln-fan-");
const forward = "/proc/sys/net/ipv4/ip_forward";
const saved = readFileSync(forward, "utf8").trim();
let a: Sandbox;
let b: Sandbox;

/** A worker config of the generated cluster with its own hostname, and its peers if given. */
const worker = (hostname: string, peers?: string[]) =>
  readFileSync(join(dir, "standalone.yaml"), "utf8").replace(/^machine:\n/m, `machine:\n  hostname: ${hostname}\n${peers ? `  api:\n    peers: ${JSON.stringify(peers)}\n` : ""}`);
const ctl = (...args: string[]) => kilnctl(["--kilnconfig", join(dir, "kilnconfig"), "-e", a.endpoint, ...args]);

t.before(async () => {
  const g = kilnctl(["gen", "config", "--name", "fan", "--endpoint", "127.0.0.1", "--out", dir]);
  if (g.code !== 0) throw new Error(g.stderr);
  a = createSandbox("t-fan-a", worker("fan-a"));
  b = createSandbox("t-fan-b", worker("fan-b"));
  writeFileSync(forward, "1");
  await waitFor("a's apid", () => ctl("version").code === 0, 30_000, 250);
  await waitFor("b's apid", () => kilnctl(["--kilnconfig", join(dir, "kilnconfig"), "-e", b.endpoint, "version"]).code === 0, 30_000, 250);
});

t.test("peers: by default a's own network only; b once a's config names it, applied live", async (t) => {
  const own = ctl("-n", a.address, "hostname", "-o", "json");
  t.equal(own.code, 0, own.stderr);
  const other = ctl("-n", `${a.address},${b.address}`, "hostname");
  t.equal(other.code, 1, "refused");
  t.match(other.stderr, new RegExp(`"${b.address.replace(/\./g, "\\.")}" is not a peer of this machine \\(allowed: the default of machine\\.api\\.peers, this machine's own networks at port 50000\\)`));
  t.notMatch(other.stdout, /fan-a/, "no node was called");
  const probe = ctl("-n", `${a.address}:22`, "hostname");
  t.match(probe.stderr, /is not a peer of this machine/, "another port of its own address is not a peer either");
  const file = join(dir, "a-peers.yaml");
  writeFileSync(file, worker("fan-a", [`${b.address}`, a.address, "127.0.0.2"]));
  const applied = ctl("apply-config", "-f", file, "--mode", "no-reboot");
  t.equal(applied.code, 0, applied.stderr);
  await waitFor("b as a's peer", () => ctl("-n", `${a.address},${b.address}`, "version").code === 0, 30_000, 250);
  t.pass("b answers through a");
});
t.teardown(() => {
  writeFileSync(forward, saved);
  destroySandbox("t-fan-a");
  destroySandbox("t-fan-b");
});

t.test("a unary call fans out and every answer names its node", async (t) => {
  const r = ctl("-n", `${a.address},${b.address}`, "hostname", "-o", "json");
  t.equal(r.code, 0, r.stderr);
  t.same(JSON.parse(r.stdout), [
    { node: a.address, hostname: "fan-a" },
    { node: b.address, hostname: "fan-b" },
  ]);
});

t.test("table output prefixes each row with its node", async (t) => {
  const r = ctl("-n", `${a.address},${b.address}`, "services");
  t.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split("\n").slice(1);
  t.ok(rows.some((l) => l.startsWith(`${a.address} `) && l.includes("containerd")), "a's containerd");
  t.ok(rows.some((l) => l.startsWith(`${b.address} `) && l.includes("containerd")), "b's containerd");
});

t.test("a stream fans out too", async (t) => {
  const r = ctl("-n", `${a.address},${b.address}`, "events", "--tail", "2", "-o", "json");
  t.equal(r.code, 0, r.stderr);
  const nodes = new Set(r.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { node: string }).node));
  t.same([...nodes].sort(), [a.address, b.address].sort());
});

t.test("a node that fails is reported on stderr while the others still answer", async (t) => {
  // 127.0.0.2 is the sandbox's own loopback, absent from apid's certificate: that node's call fails.
  const r = ctl("-n", `${a.address},127.0.0.2`, "hostname", "-o", "json");
  t.equal(r.code, 1, "a failed node makes the command fail");
  t.same(JSON.parse(r.stdout), [{ node: a.address, hostname: "fan-a" }], "the answering node is printed");
  t.match(r.stderr, /^kilnctl: node "127\.0\.0\.2": /m);
});
