// Address leases: distinct slots for concurrent machines, the same slot
// again for the same machine, stale leases reclaimed, interfaces that exist
// never reused, and release by holder.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { parseRange, sandboxRange } from "../../src/provision/sandbox/addresses.js";
import { acquireLease, chooseSlot, type LeaseHost, leasesPath, readLeases, releaseLease } from "../../src/provision/sandbox/leases.js";
import type { ProcRef } from "../../src/provision/sandbox/proc.js";

const range = sandboxRange({});

/** A fake host over a temp dir: `dead` holders and existing `links` as the test says. */
function fakeHost(t: Test, opts: { dead?: Set<number>; links?: Set<string>; routes?: string[] } = {}): LeaseHost {
  const dir = mkdtempSync(join(tmpdir(), "kiln-leases-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dead = opts.dead ?? new Set();
  return {
    dir,
    linkExists: (l) => opts.links?.has(l) ?? false,
    alive: (r) => !dead.has(r.pid),
    foreignRoutes: () => opts.routes ?? [],
  };
}

const owner = (pid: number): ProcRef => ({ pid, start: 1000 + pid });
const req = (name: string, pid: number) => ({ name, stateDir: `/s/${name}`, owner: owner(pid) });

t.test("concurrent machines get distinct slots, lowest first", async (t) => {
  const host = fakeHost(t);
  const leases = await Promise.all(Array.from({ length: 6 }, (_, i) => acquireLease(req(`m${i}`, 100 + i), range, host)));
  t.same(leases.map((l) => l.slot).sort(), [0, 1, 2, 3, 4, 5]);
  t.equal(new Set(leases.map((l) => l.address)).size, 6, "six addresses");
  t.same(readLeases(host.dir).map((l) => l.name).sort(), ["m0", "m1", "m2", "m3", "m4", "m5"]);
  t.match(readLeases(host.dir)[0], { name: String, stateDir: String, owner: { pid: Number, start: Number }, link: "kiln-0", address: "10.213.0.2" });
});

t.test("machines in other processes never share a slot", async (t) => {
  const host = fakeHost(t);
  const script = join(import.meta.dirname, "fixtures/take-lease.ts");
  const take = (name: string) =>
    new Promise<string>((resolve, reject) => {
      const c = spawn(process.execPath, ["--import", "tsx", script, host.dir, name], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      c.stdout.on("data", (d: Buffer) => (out += d.toString()));
      c.on("close", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`take-lease ${name} exited ${code}`))));
    });
  const got = await Promise.all(["p0", "p1", "p2", "p3", "p4"].map(take));
  t.equal(new Set(got).size, 5, `distinct: ${got.join(" ")}`);
});

t.test("the same machine gets its slot back; a slot whose holder died is reclaimed", async (t) => {
  const dead = new Set<number>();
  const host = fakeHost(t, { dead });
  const a = await acquireLease(req("a", 1), range, host);
  const b = await acquireLease(req("b", 2), range, host);
  t.same([a.slot, b.slot], [0, 1]);
  t.equal((await acquireLease(req("a", 3), range, host)).slot, 0, "a again (new host program) keeps its address");
  t.same(readLeases(host.dir).map((l) => [l.name, l.owner.pid]), [["a", 3], ["b", 2]], "one lease per machine");
  dead.add(2);
  t.equal((await acquireLease(req("c", 4), range, host)).slot, 1, "b's holder is gone: its slot is free");
  t.same(readLeases(host.dir).map((l) => l.name), ["a", "c"], "the stale lease is dropped");
});

t.test("never hands out a slot whose interface exists on the host", async (t) => {
  const host = fakeHost(t, { links: new Set(["kiln-0", "kiln-2"]) });
  t.equal((await acquireLease(req("a", 1), range, host)).slot, 1);
  t.equal((await acquireLease(req("b", 2), range, host)).slot, 3);
});

t.test("a full range is a clear error", async (t) => {
  const tiny = (parseRange("192.168.9.0/29") as { value: typeof range }).value;
  const host = fakeHost(t);
  await acquireLease(req("a", 1), tiny, host);
  await acquireLease(req("b", 2), tiny, host);
  await t.rejects(acquireLease(req("c", 3), tiny, host), /no free \/30 left in the sandbox range 192\.168\.9\.0\/29 \(2 slots, 2 held\)/);
});

t.test("refuses a range the host already routes", async (t) => {
  const host = fakeHost(t, { routes: ["10.213.5.0/24 dev eth1"] });
  await t.rejects(acquireLease(req("a", 1), range, host), /the sandbox range 10\.213\.0\.0\/16 is already routed on this host \(10\.213\.5\.0\/24 dev eth1\); set KILN_SANDBOX_CIDR/);
});

t.test("release gives back the holder's lease, or with no holder a stale one only", async (t) => {
  const dead = new Set<number>();
  const host = fakeHost(t, { dead });
  await acquireLease(req("a", 1), range, host);
  await acquireLease(req("b", 2), range, host);
  t.equal(await releaseLease("/s/a", owner(9), host), false, "another holder's lease stays");
  t.equal(await releaseLease("/s/a", owner(1), host), true);
  t.equal(await releaseLease("/s/b", undefined, host), false, "b's holder lives");
  dead.add(2);
  t.equal(await releaseLease("/s/b", undefined, host), true, "b's holder is gone");
  t.same(readLeases(host.dir), []);
  t.match(readFileSync(leasesPath(host.dir), "utf8"), /^\{\n {2}"leases": \[\]\n\}\n$/);
});

t.test("release without a lease file does nothing", async (t) => {
  t.equal(await releaseLease("/s/a", undefined, fakeHost(t)), false);
});

t.test("chooseSlot prefers the previous slot only while it is free", async (t) => {
  const host = { linkExists: (l: string) => l === "kiln-7", alive: () => true };
  t.match(chooseSlot([], range, req("a", 1), host), { value: { slot: 0 } });
  const lease = (slot: number, name: string, pid: number) => ({ slot, network: `10.213.0.${slot * 4}/30`, link: `kiln-${slot}`, hostAddress: "", address: "", prefixLength: 30, name, stateDir: `/s/${name}`, owner: owner(pid) });
  t.match(chooseSlot([lease(5, "a", 1)], range, req("a", 2), host), { value: { slot: 5 } });
  t.match(chooseSlot([lease(7, "a", 1)], range, req("a", 2), host), { value: { slot: 0 } }, "kiln-7 still exists");
});
