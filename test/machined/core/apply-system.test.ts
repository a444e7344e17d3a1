// applySystem against a temp root with the recording fake sys: hostname,
// /etc/hosts and resolv.conf, sysctls, files, and only what changed.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import type { MachineConfig } from "../../../src/config/schema.js";
import type { ApplyEnv } from "../../../src/machined/apply/apply-env.js";
import { applySystem } from "../../../src/machined/apply/apply-system.js";
import { hostsFile, resolvConf } from "../../../src/machined/apply/etc-files.js";
import { hostnameFor } from "../../../src/machined/apply/hostname.js";
import { sysctlPath } from "../../../src/machined/apply/sysctls.js";
import type { PlatformName } from "../../../src/machinery/platform.js";
import { createFakeSys, type FakeSys } from "../../../src/sys/fake.js";
import { configOf, worker } from "../../config/fixtures.js";
import { type Teardown, tempDir } from "../helpers.js";
import { identityOf } from "../../../src/machined/machine-id.js";

const identity = identityOf("0123456789abcdef0123456789abcdef");

/** A temp root with /etc and some /proc/sys directories, and a fake sys. */
function machine(t: Teardown, platform: PlatformName = "metal"): ApplyEnv & { sys: FakeSys; read(p: string): string } {
  const root = tempDir(t);
  for (const dir of ["etc", "proc/sys/net/ipv4", "proc/sys/vm"]) mkdirSync(join(root, dir), { recursive: true });
  return { sys: createFakeSys(), platform, root, read: (p) => readFileSync(join(root, p), "utf8") };
}

/** A worker config with these machine fields. */
const cfg = (machine: Record<string, unknown>): MachineConfig => configOf(worker(machine));

const hosts = (name: string) =>
  `127.0.0.1 localhost\n127.0.1.1 ${name}\n::1 localhost ip6-localhost ip6-loopback\nff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n`;

t.test("sets the configured hostname and writes it into /etc/hosts", async (t) => {
  const m = machine(t);
  t.same(applySystem(m, undefined, cfg({ hostname: "node-1" }), identity), []);
  t.same(m.sys.argsOf("sethostname"), [["node-1"]]);
  t.equal(m.read("etc/hosts"), hosts("node-1"));
});

t.test("names an unnamed machine kiln- and the first 6 hex digits of its id", async (t) => {
  const m = machine(t);
  applySystem(m, undefined, cfg({}), identity);
  t.same(m.sys.argsOf("sethostname"), [["kiln-012345"]]);
  t.equal(m.read("etc/hosts"), hosts("kiln-012345"));
  t.equal(hostnameFor(undefined, identityOf("abcdef99")), "kiln-abcdef");
});

t.test("writes resolv.conf only when nameservers are configured", async (t) => {
  const without = machine(t);
  applySystem(without, undefined, cfg({}), identity);
  t.equal(existsSync(join(without.root, "etc/resolv.conf")), false);

  const withServers = machine(t);
  applySystem(withServers, undefined, cfg({ network: { nameservers: ["1.1.1.1", "2606:4700:4700::1111"] } }), identity);
  t.equal(withServers.read("etc/resolv.conf"), "nameserver 1.1.1.1\nnameserver 2606:4700:4700::1111\n");
  t.equal(resolvConf(cfg({ network: { nameservers: [] } })), undefined);
  t.equal(resolvConf(undefined), undefined);
});

t.test("resolv.conf takes DHCP's nameservers when the config names none, and drops them when they go", async (t) => {
  const dhcp = { now: ["10.0.2.3"], before: false };
  t.equal(resolvConf(cfg({}), undefined, dhcp), "# from DHCP (machine.network.nameservers is empty)\nnameserver 10.0.2.3\n");
  t.equal(resolvConf(cfg({ network: { nameservers: ["1.1.1.1"] } }), undefined, dhcp), "nameserver 1.1.1.1\n", "the config wins");
  t.equal(resolvConf(undefined, undefined, { now: [], before: true }), "# no nameservers configured (machine.network.nameservers)\n");
  t.equal(resolvConf(undefined, undefined, { now: [], before: false }), undefined);
});

t.test("generates the hosts file for any name", async (t) => {
  t.equal(hostsFile("a.example.com").split("\n")[1], "127.0.1.1 a.example.com");
});

t.test("writes the hostname to /etc/hostname", async (t) => {
  const m = machine(t);
  applySystem(m, undefined, cfg({ hostname: "node-1" }), identity);
  t.equal(m.read("etc/hostname"), "node-1\n");
});

t.test("adds extra host entries to /etc/hosts, and rewrites it live when only they change", async (t) => {
  const m = machine(t);
  const first = cfg({ hostname: "node-1", network: { extraHostEntries: [{ ip: "10.0.0.5", aliases: ["registry", "registry.lab"] }] } });
  applySystem(m, undefined, first, identity);
  t.equal(m.read("etc/hosts"), `${hosts("node-1")}# machine.network.extraHostEntries\n10.0.0.5 registry registry.lab\n`);
  const next = cfg({ hostname: "node-1", network: { extraHostEntries: [{ ip: "fd00::5", aliases: ["db"] }] } });
  applySystem(m, first, next, identity);
  t.equal(m.read("etc/hosts"), `${hosts("node-1")}# machine.network.extraHostEntries\nfd00::5 db\n`);
  applySystem(m, next, cfg({ hostname: "node-1" }), identity);
  t.equal(m.read("etc/hosts"), hosts("node-1"), "removed entries go");
});

t.test("writes sysctls under <root>/proc/sys", async (t) => {
  const m = machine(t);
  const warnings = applySystem(m, undefined, cfg({ sysctls: { "net.ipv4.ip_forward": "1", "vm.swappiness": "10" } }), identity);
  t.same(warnings, []);
  t.equal(m.read("proc/sys/net/ipv4/ip_forward"), "1");
  t.equal(m.read("proc/sys/vm/swappiness"), "10");
  t.equal(sysctlPath("/r", "net.ipv4.conf.all.rp_filter"), "/r/proc/sys/net/ipv4/conf/all/rp_filter");
});

t.test("skips a sysctl that is not namespaced on the sandbox platform, with a warning", async (t) => {
  const m = machine(t, "sandbox");
  const warnings = applySystem(m, undefined, cfg({ sysctls: { "vm.swappiness": "10", "net.ipv4.ip_forward": "1" } }), identity);
  t.same(warnings, ["sysctl vm.swappiness: skipped on the sandbox platform (it is not namespaced and would change the host)"]);
  t.equal(existsSync(join(m.root, "proc/sys/vm/swappiness")), false);
  t.equal(m.read("proc/sys/net/ipv4/ip_forward"), "1");
});

t.test("warns about a sysctl the kernel does not have and goes on", async (t) => {
  const m = machine(t);
  const warnings = applySystem(m, undefined, cfg({ sysctls: { "net.core.somaxconn": "4096", "vm.swappiness": "1" } }), identity);
  t.same(warnings, [`sysctl net.core.somaxconn=4096: ENOENT: no such file or directory, open '${join(m.root, "proc/sys/net/core/somaxconn")}'`]);
  t.equal(m.read("proc/sys/vm/swappiness"), "1");
});

t.test("maps '/' in a dotted sysctl name to a '.' within one component", async (t) => {
  t.equal(sysctlPath("/r", "net.ipv4.conf.eth0/100.forwarding"), "/r/proc/sys/net/ipv4/conf/eth0.100/forwarding");
});

t.test("writes files with their content and mode, creating directories", async (t) => {
  const m = machine(t);
  const files = [
    { path: "/etc/motd", content: "hello\n", permissions: "0600" },
    { path: "/var/lib/web/index.html", content: "<h1>hi</h1>", permissions: 0o640 },
    { path: "/etc/default-mode", content: "x" },
  ];
  t.same(applySystem(m, undefined, cfg({ files }), identity), []);
  t.equal(m.read("etc/motd"), "hello\n");
  t.equal(statSync(join(m.root, "etc/motd")).mode & 0o7777, 0o600);
  t.equal(m.read("var/lib/web/index.html"), "<h1>hi</h1>");
  t.equal(statSync(join(m.root, "var/lib/web/index.html")).mode & 0o7777, 0o640);
  t.equal(statSync(join(m.root, "etc/default-mode")).mode & 0o7777, 0o644);
});

t.test("changes the mode of a file that already exists", async (t) => {
  const m = machine(t);
  writeFileSync(join(m.root, "etc/motd"), "old", { mode: 0o666 });
  applySystem(m, undefined, cfg({ files: [{ path: "/etc/motd", content: "new", permissions: "0400" }] }), identity);
  t.equal(m.read("etc/motd"), "new");
  t.equal(statSync(join(m.root, "etc/motd")).mode & 0o7777, 0o400);
});

t.test("warns when op overwrite names a file that does not exist, and creates nothing", async (t) => {
  const m = machine(t);
  writeFileSync(join(m.root, "etc/issue"), "image's issue\n");
  const files = [
    { path: "/etc/missing", content: "x", op: "overwrite" },
    { path: "/etc/issue", content: "kiln\n", op: "overwrite" },
  ];
  const warnings = applySystem(m, undefined, cfg({ files }), identity);
  t.same(warnings, ["file /etc/missing: op overwrite: the file does not exist; use op create"]);
  t.equal(existsSync(join(m.root, "etc/missing")), false);
  t.equal(m.read("etc/issue"), "kiln\n");
});

t.test("appends with op append", async (t) => {
  const m = machine(t);
  writeFileSync(join(m.root, "etc/profile"), "base\n");
  applySystem(m, undefined, cfg({ files: [{ path: "/etc/profile", content: "extra\n", op: "append" }] }), identity);
  t.equal(m.read("etc/profile"), "base\nextra\n");
});

t.test("rewrites only the files that changed on a second apply", async (t) => {
  const m = machine(t);
  writeFileSync(join(m.root, "etc/profile"), "base\n");
  const append = { path: "/etc/profile", content: "extra\n", op: "append" };
  const motd = { path: "/etc/motd", content: "one\n" };
  const first = cfg({ hostname: "a", files: [append, motd] });
  applySystem(m, undefined, first, identity);
  writeFileSync(join(m.root, "etc/motd"), "edited by hand\n");

  applySystem(m, first, cfg({ hostname: "b", files: [append, motd] }), identity);
  t.equal(m.read("etc/profile"), "base\nextra\n", "the unchanged append is not appended twice");
  t.equal(m.read("etc/motd"), "edited by hand\n", "an unchanged file is not rewritten");

  const third = cfg({ hostname: "b", files: [append, { ...motd, content: "two\n" }] });
  applySystem(m, cfg({ hostname: "b", files: [append, motd] }), third, identity);
  t.equal(m.read("etc/motd"), "two\n");
  t.equal(m.read("etc/profile"), "base\nextra\n");
});

t.test("leaves the hostname and sysctls alone when they did not change", async (t) => {
  const m = machine(t);
  const before = cfg({ hostname: "a", sysctls: { "vm.swappiness": "10" } });
  applySystem(m, undefined, before, identity);
  writeFileSync(join(m.root, "proc/sys/vm/swappiness"), "60");
  writeFileSync(join(m.root, "etc/hosts"), "by hand\n");

  const after = cfg({ hostname: "a", sysctls: { "vm.swappiness": "10" }, env: { A: "1" } });
  t.same(applySystem(m, before, after, identity), []);
  t.same(m.sys.argsOf("sethostname"), [["a"]], "sethostname only on the first apply");
  t.equal(m.read("etc/hosts"), "by hand\n");
  t.equal(m.read("proc/sys/vm/swappiness"), "60");
});

t.test("rewrites every sysctl when one of them changed", async (t) => {
  const m = machine(t);
  const before = cfg({ sysctls: { "vm.swappiness": "10", "net.ipv4.ip_forward": "0" } });
  applySystem(m, undefined, before, identity);
  applySystem(m, before, cfg({ sysctls: { "vm.swappiness": "10", "net.ipv4.ip_forward": "1" } }), identity);
  t.equal(m.read("proc/sys/net/ipv4/ip_forward"), "1");
  t.equal(m.read("proc/sys/vm/swappiness"), "10");
});

t.test("sets the hostname again and rewrites resolv.conf when only the nameservers changed", async (t) => {
  const m = machine(t);
  const before = cfg({ hostname: "a", network: { nameservers: ["1.1.1.1"] } });
  applySystem(m, undefined, before, identity);
  applySystem(m, before, cfg({ hostname: "a", network: { nameservers: ["9.9.9.9"] } }), identity);
  t.same(m.sys.argsOf("sethostname"), [["a"], ["a"]]);
  t.equal(m.read("etc/resolv.conf"), "nameserver 9.9.9.9\n");
});

t.test("stops using removed nameservers", async (t) => {
  const m = machine(t);
  const before = cfg({ network: { nameservers: ["1.1.1.1"] } });
  applySystem(m, undefined, before, identity);
  applySystem(m, before, cfg({}), identity);
  t.notMatch(m.read("etc/resolv.conf"), "1.1.1.1");
});

t.test("says which settings it does not act on yet", async (t) => {
  const modules = cfg({ kernel: { modules: [{ name: "loop" }] } });
  // On metal modules load from the image's /usr/lib/modules/<release>; this scratch root has none.
  const metal = applySystem(machine(t, "metal"), undefined, modules, identity);
  t.equal(metal.length, 1);
  t.match(metal[0], /^machine\.kernel\.modules: loop: .*modules\.dep is missing/);
  t.same(applySystem(machine(t, "sandbox"), undefined, modules, identity), [
    "machine.kernel.modules: not loaded on the sandbox platform (it shares the host's kernel)",
  ]);
  const links = cfg({ network: { interfaces: [{ name: "eth0", dhcp: true }] } });
  t.same(applySystem(machine(t, "sandbox"), undefined, links, identity), [
    "machine.network.interfaces: not applied on the sandbox platform (the provisioner owns its links)",
  ]);
  t.same(applySystem(machine(t, "metal"), undefined, links, identity), [], "on metal the network controller applies them");
});
