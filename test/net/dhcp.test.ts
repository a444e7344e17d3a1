// kiln's DHCP client against Debian's real dnsmasq, across a veth pair
// between two throwaway network namespaces.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import t, { type Test } from "tap";
import { createNetns, ipIn, ipJson, needsNetns } from "./netns.js";

const MAC = "02:00:00:77:00:02";
const fixture = fileURLToPath(new URL("../fixtures/net/dhcp-run.ts", import.meta.url));

/** True when dnsmasq is installed; else skipped, or failed on CI. */
function needsDnsmasq(t: Test): boolean {
  try {
    execFileSync("dnsmasq", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    const why = "needs dnsmasq (apt-get install dnsmasq-base; hack/setup.sh installs it)";
    if (process.env.CI === "true") t.fail(why);
    else t.plan(0, why);
    return false;
  }
}

/** A server namespace with dnsmasq on kd0 (10.77.0.1/24) and a client namespace holding kd1. */
function network(t: Test, tag: string): { client: string } {
  const [server, client] = [`kiln-dhcps-${process.pid}-${tag}`, `kiln-dhcpc-${process.pid}-${tag}`];
  createNetns(t, server);
  createNetns(t, client);
  ipIn(server, ["link", "add", "kd0", "type", "veth", "peer", "name", "kd1", "netns", client]);
  ipIn(client, ["link", "set", "kd1", "address", MAC]);
  ipIn(server, ["addr", "add", "10.77.0.1/24", "dev", "kd0"]);
  ipIn(server, ["link", "set", "kd0", "up"]);
  const dir = mkdtempSync(join(tmpdir(), "kiln-dnsmasq-"));
  const dnsmasq = spawn("ip", ["netns", "exec", server, "dnsmasq", ...dnsmasqArgs(dir)], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  dnsmasq.stderr?.on("data", (d: Buffer) => {
    log += d.toString();
  });
  t.teardown(async () => {
    await stop(dnsmasq);
    rmSync(dir, { recursive: true, force: true });
    if (t.passing() === false) t.comment(`dnsmasq said:\n${log}`);
  });
  return { client };
}

/** dnsmasq as a DHCP server only: a fixed address and name for MAC, T1 of 3 s so the test sees a renewal. */
function dnsmasqArgs(dir: string): string[] {
  return [
    "--no-daemon", "--conf-file=/dev/null", "--port=0", "--interface=kd0", "--bind-interfaces", "--no-ping", "--log-dhcp",
    `--dhcp-leasefile=${join(dir, "leases")}`, `--pid-file=${join(dir, "pid")}`, "--user=root",
    "--dhcp-range=10.77.0.50,10.77.0.60,255.255.255.0,2m",
    `--dhcp-host=${MAC},10.77.0.55,kiln-dhcp-test`,
    "--dhcp-option=option:router,10.77.0.1",
    "--dhcp-option=option:dns-server,10.77.0.53,10.77.0.54",
    "--dhcp-option=option:domain-name,kiln.test",
    "--dhcp-option=option:T1,3",
  ];
}

/** TERM, then wait for exit. */
function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once("exit", () => resolve());
    p.kill("SIGTERM");
  });
}

/** Our client in namespace `ns` (env -i: tap's NODE_OPTIONS names loaders for this process only), and its events. */
function runClient(t: Test, ns: string) {
  const child = spawn("ip", ["netns", "exec", ns, "env", "-i", `PATH=${process.env.PATH}`, process.execPath, "--import=tsx", fixture, "kd1"], {
    stdio: ["pipe", "pipe", "pipe"],
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  t.teardown(() => stop(child));
  const next = async (ms = 30_000): Promise<{ t: string; lease?: Record<string, unknown>; message?: string }> => {
    const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no event within ${ms} ms; stderr: ${stderr}`)), ms).unref());
    const r = await Promise.race([lines.next(), timer]);
    if (r.done) throw new Error(`the client exited; stderr: ${stderr}`);
    return JSON.parse(r.value);
  };
  return { next, send: (line: string) => child.stdin?.write(`${line}\n`) };
}

interface IpAddr {
  addr_info: { family: string; local: string; prefixlen: number }[];
}

t.test("acquires a lease from dnsmasq, configures the link, renews at T1 and cleans up on stop", async (t) => {
  if (!needsNetns(t) || !needsDnsmasq(t)) return;
  const { client } = network(t, "client");
  const c = runClient(t, client);

  const acquired = await c.next();
  t.match(acquired, {
    t: "acquired",
    lease: {
      link: "kd1", address: "10.77.0.55", prefixLength: 24, router: "10.77.0.1", nameservers: ["10.77.0.53", "10.77.0.54"],
      hostname: "kiln-dhcp-test", domain: "kiln.test", serverId: "10.77.0.1", leaseSeconds: 120, renewSeconds: 3,
    },
  });
  const [kd1] = ipJson(client, ["addr", "show", "dev", "kd1"]) as IpAddr[];
  t.match(kd1?.addr_info, [{ family: "inet", local: "10.77.0.55", prefixlen: 24 }], "ip -j addr shows the leased address");
  t.match(ipJson(client, ["route"]), [{ dst: "default", gateway: "10.77.0.1", dev: "kd1", metric: 1024 }, { dst: "10.77.0.0/24", dev: "kd1" }]);
  t.same(ipJson(client, ["route", "show", "255.255.255.255"]), [], "the broadcast route is gone after the exchange");

  t.match(await c.next(), { t: "renewed", lease: { address: "10.77.0.55" } }, "renewed by unicast at T1");

  c.send("stop");
  t.match(await c.next(), { t: "stopped" });
  const [after] = ipJson(client, ["addr", "show", "dev", "kd1"]) as IpAddr[];
  t.same(after?.addr_info.filter((a) => a.family === "inet"), [], "stop removed the address");
  t.same(ipJson(client, ["route"]), [], "and the route");
});

t.test("the network controller, with no config, brings up the first link by DHCP and names the resolvers", async (t) => {
  if (!needsNetns(t) || !needsDnsmasq(t)) return;
  const { client } = network(t, "ctl");
  const root = mkdtempSync(join(tmpdir(), "kiln-netroot-"));
  mkdirSync(join(root, "etc"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const script = fileURLToPath(new URL("../fixtures/net/network-run.ts", import.meta.url));
  const out = execFileSync("ip", ["netns", "exec", client, "env", "-i", `PATH=${process.env.PATH}`, process.execPath, "--import=tsx", script, root], {
    encoding: "utf8",
    cwd: fileURLToPath(new URL("../..", import.meta.url)),
    timeout: 60_000,
  });
  const r = JSON.parse(out);
  t.equal(r.online, true, "waitOnline saw an address and a default route");
  t.match(r.leases, [{ link: "kd1", address: "10.77.0.55", hostname: "kiln-dhcp-test" }]);
  t.same(r.hostnames.at(-1), ["kiln-dhcp-test"], "the lease's hostname, as the config names none");
  t.equal(r.resolv, "# from DHCP (machine.network.nameservers is empty)\nnameserver 10.77.0.53\nnameserver 10.77.0.54\n");
  t.same(r.events, ["link-up kd1", "lease-acquired kd1 10.77.0.55/24 dhcp", "address-added kd1 10.77.0.55/24 dhcp"]);
});
