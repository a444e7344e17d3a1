// kilnctl's inspection commands against machined's real API server backed
// by the fake Machine.
import t from "tap";
import type { FakeMachine } from "../machined/api/fixtures/fake-machine.js";
import { createFakeDeps } from "./fixtures/fake-deps.js";
import { fakeMachineCli } from "./fixtures/fake-machine-cli.js";

/** A fake machine served on a temp socket; `run` runs kilnctl against it. */
const setup = (t: { teardown(fn: () => unknown): void }) => fakeMachineCli(t, "kilnctl-inspect-");

/** Parses JSON Lines. */
const jsonLines = (text: string) => text.trim().split("\n").map((l) => JSON.parse(l));

t.test("dmesg prints the kernel log with each line prefixed by its node", async (t) => {
  const { run } = await setup(t);
  const r = await run(["dmesg"]);
  t.equal(r.code, 0);
  t.equal(r.out.split("\n")[0], "node-a: kern  :info  : [    0.000042] Linux version 6.1.0");
  t.equal(r.out.split("\n").length, 4, "three lines");
});

t.test("dmesg --tail N -o json prints one object a line", async (t) => {
  const { run } = await setup(t);
  const r = await run(["dmesg", "--tail", "1", "-o", "json"]);
  t.same(jsonLines(r.out), [{ node: "node-a", line: "kern  :notice: [    3.000042] kiln: machined started" }]);
});

t.test("dmesg -f prints new records until interrupted, then exits 0", async (t) => {
  const { run, machine } = await setup(t);
  const deps = createFakeDeps();
  const running = run(["dmesg", "-f", "--tail", "0"], deps);
  await new Promise((r) => setTimeout(r, 300));
  (machine as FakeMachine).pushKernel("usb 1-1: new device");
  while (!deps.out().includes("usb")) await new Promise((r) => setTimeout(r, 10));
  deps.interrupt();
  t.equal((await running).code, 0);
  t.equal(deps.out(), "node-a: kern  :warn  : [    9.000000] usb 1-1: new device\n");
});

t.test("memory prints the Memory message in JSON and binary units in the table", async (t) => {
  const { run } = await setup(t);
  const MiB = (n: number) => String(n * 2 ** 20);
  t.strictSame(JSON.parse((await run(["memory", "-o", "json"])).out), {
    node: "node-a", total: MiB(2048), free: MiB(1024), available: MiB(1536),
    buffers: MiB(64), cached: MiB(256), shared: MiB(8), swapTotal: "0", swapFree: "0",
  });
  t.equal((await run(["memory"])).out, "NODE    TOTAL    USED       FREE     SHARED   BUFFERS   CACHED     AVAILABLE\nnode-a  2.0 GiB  704.0 MiB  1.0 GiB  8.0 MiB  64.0 MiB  256.0 MiB  1.5 GiB\n");
});

t.test("processes sorts by resident memory by default and by CPU time on request", async (t) => {
  const { run } = await setup(t);
  t.same(JSON.parse((await run(["processes", "-o", "json"])).out).map((p: { pid: number }) => p.pid), [1, 42, 2]);
  const byCpu = JSON.parse((await run(["ps", "--sort", "cpu", "-o", "json"])).out);
  t.same(byCpu.map((p: { pid: number }) => p.pid), [42, 1, 2]);
  t.strictSame(byCpu[0], {
    node: "node-a", pid: 42, ppid: 1, state: "S", threads: 9, cpuTime: 12.25, virtualMemory: String(1200 * 2 ** 20), residentMemory: String(40 * 2 ** 20),
    command: "containerd", executable: "/usr/bin/containerd", args: "/usr/bin/containerd --config /etc/containerd/config.toml",
  });
  const table = (await run(["ps"])).out.split("\n");
  t.match(table[0], /^NODE\s+PID\s+STATE\s+THREADS\s+CPU-TIME\s+VIRTMEM\s+RESMEM\s+COMMAND$/);
  t.match(table[3], /^node-a\s+2\s+S\s+1\s+0\.00\s+0 B\s+0 B\s+\[kthreadd\]$/);
});

t.test("processes refuses an unknown sort key with exit 2", async (t) => {
  const { run } = await setup(t);
  const r = await run(["ps", "--sort", "pid"]);
  t.equal(r.code, 2);
  t.match(r.err, /^kilnctl: usage: option '--sort <key>' argument 'pid' is invalid/);
});

t.test("mounts prints sizes, with dashes for filesystems that have none", async (t) => {
  const { run } = await setup(t);
  const table = (await run(["mounts"])).out.split("\n");
  t.match(table[1], /^node-a\s+proc\s+proc\s+-\s+-\s+-\s+-\s+\/proc$/);
  t.match(table[2], /^node-a\s+tmpfs\s+tmpfs\s+1\.0 GiB\s+256\.0 MiB\s+768\.0 MiB\s+25%\s+\/var$/);
  t.strictSame(JSON.parse((await run(["mounts", "-o", "json"])).out)[1], {
    node: "node-a", source: "tmpfs", target: "/var", fstype: "tmpfs", options: "rw,nosuid,nodev,mode=755", size: String(2 ** 30), available: String(768 * 2 ** 20),
  });
});

t.test("get links, addresses and routes print tables and JSON records", async (t) => {
  const { run } = await setup(t);
  const links = await run(["get", "links"]);
  t.equal(links.code, 0);
  t.match(links.out.split("\n")[2], /^node-a\s+2\s+eth0\s+up\s+1500\s+52:54:00:12:34:56$/);
  t.strictSame(JSON.parse((await run(["get", "links", "-o", "json"])).out)[1], { node: "node-a", index: 2, name: "eth0", up: true, lowerUp: true, mtu: 1500, mac: "52:54:00:12:34:56" });
  t.match((await run(["get", "addresses"])).out.split("\n")[2], /^node-a\s+eth0\s+inet\s+10\.0\.2\.15\/24$/);
  const routes = await run(["get", "routes"]);
  t.match(routes.out.split("\n")[1], /^node-a\s+default\s+10\.0\.2\.2\s+eth0\s+1024\s+static\s+universe\s+-$/);
  t.strictSame(JSON.parse((await run(["get", "routes", "-o", "json"])).out)[1], {
    node: "node-a", family: 4, destination: "10.0.2.0/24", gateway: "", link: "eth0", metric: 0, source: "10.0.2.15", protocol: "kernel", scope: "link",
  });
  t.strictSame(JSON.parse((await run(["get", "addresses", "-o", "yaml", "-o", "json"])).out)[0], { node: "node-a", link: "lo", family: 4, address: "127.0.0.1", prefixLength: 8 });
});

t.test("containers lists every namespace or one, and says when containerd is down", async (t) => {
  const { run } = await setup(t);
  const all = JSON.parse((await run(["containers", "-o", "json"])).out);
  t.strictSame(all[0], { node: "node-a", namespace: "k8s.io", id: "pause-1", image: "registry.k8s.io/pause:3.9", runtime: "io.containerd.runc.v2", created: "2024-05-01T10:00:00Z" });
  t.notOk("created" in all[1], "no created when containerd does not say");
  t.match((await run(["containers"])).out.split("\n")[1], /^node-a\s+k8s\.io\s+pause-1\s+registry\.k8s\.io\/pause:3\.9\s+io\.containerd\.runc\.v2\s+2024-05-01T10:00:00Z$/);
  t.same(JSON.parse((await run(["containers", "--namespace", "system", "-o", "json"])).out).map((c: { id: string }) => c.id), ["etcd"]);
  const down = await run(["containers", "--namespace", "down"]);
  t.equal(down.code, 1);
  t.equal(down.err, "kilnctl: listing containers: containerd is not running (no answer on /run/containerd/containerd.sock)\n");
});

t.test("images lists every namespace or one, and says when containerd is down", async (t) => {
  const { run } = await setup(t);
  const all = JSON.parse((await run(["images", "-o", "json"])).out);
  t.strictSame(all[1], { node: "node-a", namespace: "k8s.io", name: "kiln.local/pause:0.1.7", digest: `sha256:${"a".repeat(64)}`, mediaType: "application/vnd.oci.image.manifest.v1+json", size: "401", created: "2024-05-01T10:00:00Z" });
  t.match((await run(["images"])).out.split("\n")[2], /^node-a\s+k8s\.io\s+kiln\.local\/pause:0\.1\.7\s+sha256:aaaaaaaaaaaa\s+401 B\s+2024-05-01T10:00:00Z$/);
  t.same(JSON.parse((await run(["images", "--namespace", "k8s.io", "-o", "json"])).out).map((i: { name: string }) => i.name), ["kiln.local/pause:0.1.7"]);
  const down = await run(["images", "--namespace", "down"]);
  t.equal(down.code, 1);
  t.equal(down.err, "kilnctl: listing images: containerd is not running (no answer on /run/containerd/containerd.sock)\n");
});

t.test("list streams entries as JSON Lines and warns about the ones it could not read", async (t) => {
  const { run } = await setup(t);
  const r = await run(["list", "/etc", "-o", "json"]);
  t.equal(r.code, 0);
  const entries = jsonLines(r.out);
  t.same(entries.map((e) => e.name), [".", "hosts", "mtab", "secret"]);
  t.same(entries[1], { node: "node-a", name: "hosts", size: 27, mode: "-rw-r--r--", modeBits: 0o100644, modified: "2024-05-01T10:00:00.000Z", isDir: false, link: "", error: "" });
  t.equal(r.err, "kilnctl: warning: node-a: secret: permission denied (EACCES)\n");
});

t.test("ls prints a table with link targets and passes the depth through", async (t) => {
  const { run, machine } = await setup(t);
  const lines = (await run(["ls", "/etc", "--depth", "-1"])).out.split("\n");
  t.match(lines[0], /^NODE\s+MODE\s+SIZE\s+MODIFIED\s+NAME$/);
  t.match(lines[1], /^node-a\s+drwxr-xr-x\s+0\s+2024-05-01T10:00:00Z\s+\.$/);
  t.match(lines[3], /lrwxrwxrwx .* mtab -> \/proc\/self\/mounts$/);
  t.same(machine.calls, ["list /etc -1"]);
  t.equal((await run(["ls", "/etc", "--depth", "deep"])).code, 2);
});

t.test("list and read refuse STATE with exit 1 and a missing path with exit 3", async (t) => {
  const { run } = await setup(t);
  const denied = await run(["ls", "/system/state"]);
  t.equal(denied.code, 1);
  t.equal(denied.err, "kilnctl: listing /system/state: /system/state: refused: it is under /system/state, the STATE directory\n");
  const read = await run(["read", "/system/state/config.yaml"]);
  t.equal(read.code, 1);
  t.match(read.err, /^kilnctl: reading \/system\/state\/config.yaml: .*refused/);
  t.equal((await run(["read", "/nope"])).code, 3);
});

t.test("read writes the file's bytes, or one object with its content in JSON", async (t) => {
  const { run } = await setup(t);
  t.equal((await run(["read", "/etc/hosts"])).out, "127.0.0.1 localhost\n::1 localhost\n");
  t.same(JSON.parse((await run(["read", "/etc/hosts", "-o", "json"])).out), {
    node: "node-a", path: "/etc/hosts", size: 34, encoding: "utf-8", content: "127.0.0.1 localhost\n::1 localhost\n",
  });
});

t.test("time and hostname print one object each", async (t) => {
  const { run } = await setup(t);
  t.same(JSON.parse((await run(["time", "-o", "json"])).out), {
    node: "node-a",
    servers: ["time.cloudflare.com"],
    localtime: "2024-05-01T10:00:00.000Z",
    state: "synchronized",
    server: "time.cloudflare.com",
    serverAddress: "162.159.200.1",
    offsetMs: -1.25,
    delayMs: 12.5,
    stratum: 3,
    lastSync: "2024-05-01T09:59:30.000Z",
    correction: "slew",
    pollSeconds: 128,
    lastError: "",
  });
  t.equal(
    (await run(["time"])).out,
    "NODE    SERVERS              STATE         SERVER               OFFSET    LAST-SYNC                 LOCALTIME\n" +
      "node-a  time.cloudflare.com  synchronized  time.cloudflare.com  -1.250ms  2024-05-01T09:59:30.000Z  2024-05-01T10:00:00.000Z\n",
  );
  t.strictSame(JSON.parse((await run(["hostname", "-o", "json"])).out), { node: "node-a", hostname: "fake" });
  t.equal((await run(["hostname", "-o", "yaml"])).out, "node: node-a\nhostname: fake\n");
  t.equal((await run(["hostname"])).out, "NODE    HOSTNAME\nnode-a  fake\n");
});
