import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import t from "tap";
import { describeFdLimit, fdLimitCeiling, raiseFdLimit, readNrOpen } from "../../src/init/fd-limit.js";
import { createFakeSys } from "../../src/sys/fake.js";
import { createLibcSys } from "../../src/sys/libc.js";
import { RLIMIT } from "../../src/sys/sys.js";

const fixture = new URL("../fixtures/init/fd-limit.ts", import.meta.url).pathname;

/** "Max open files" of a process, from /proc/<pid>/limits. */
function openFilesOf(pid: number): { soft: number; hard: number } {
  const line = readFileSync(`/proc/${pid}/limits`, "utf8").split("\n").find((l) => l.startsWith("Max open files"));
  const [soft, hard] = (line ?? "").slice("Max open files".length).trim().split(/\s+/).map(Number);
  return { soft: soft!, hard: hard! };
}

/** Runs the fixture with `args` until it reports; killed at the test's end. */
async function runFixture(t: { teardown(fn: () => unknown): void }, args: string[]) {
  const p: ChildProcess = spawn(process.execPath, ["--import", "tsx", fixture, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  t.teardown(() => p.kill());
  for await (const line of createInterface({ input: p.stdout! })) return JSON.parse(line) as { pid: number; child: number; result: unknown };
  throw new Error("the fd-limit fixture printed nothing");
}

t.test("raises the hard limit to nr_open's ceiling and the soft one to it", async (t) => {
  const sys = createFakeSys();
  const r = raiseFdLimit(sys, 4_194_304);
  t.same(sys.argsOf("setrlimit"), [[RLIMIT.NOFILE, { soft: fdLimitCeiling, hard: fdLimitCeiling }]]);
  t.equal(describeFdLimit(r), "open files limit 1024:4096 → 1048576:1048576");
  const low = createFakeSys();
  raiseFdLimit(low, 65_536);
  t.same(low.argsOf("setrlimit"), [[RLIMIT.NOFILE, { soft: 65_536, hard: 65_536 }]], "nr_open below the ceiling wins");
});

t.test("never lowers a hard limit already above the target", async (t) => {
  const sys = createFakeSys();
  sys.respond("getrlimit", () => ({ soft: 1024, hard: 2_000_000 }));
  raiseFdLimit(sys, 4_194_304);
  t.same(sys.argsOf("setrlimit"), [[RLIMIT.NOFILE, { soft: 2_000_000, hard: 2_000_000 }]]);
  const unknown = createFakeSys();
  raiseFdLimit(unknown, undefined);
  t.same(unknown.argsOf("setrlimit"), [[RLIMIT.NOFILE, { soft: 4096, hard: 4096 }]], "without nr_open: soft up to hard");
});

t.test("without CAP_SYS_RESOURCE it raises the soft limit alone and says why", async (t) => {
  const sys = createFakeSys();
  sys.failOn("setrlimit", (_r: number, l: { hard: number }) => l.hard > 4096);
  const r = raiseFdLimit(sys, 1_048_576);
  t.same(r.after, { soft: 4096, hard: 4096 });
  t.match(describeFdLimit(r), /^open files limit 1024:4096 → 4096:4096 \(hard limit kept: raising the hard limit to 1048576: .*EPERM/);
});

t.test("reads nr_open, and nothing from a file that is not there", async (t) => {
  t.ok((readNrOpen() ?? 0) >= 1024, "this host's nr_open");
  t.equal(readNrOpen("/nonexistent/nr_open"), undefined);
});

t.test("prlimit reads our limit as /proc says it", async (t) => {
  t.same(createLibcSys().getrlimit(RLIMIT.NOFILE), openFilesOf(process.pid));
});

t.test("prlimit sets a child process's limit, and its own children inherit it", async (t) => {
  const r = await runFixture(t, ["set", "256", "512"]);
  t.same(openFilesOf(r.pid), { soft: 256, hard: 512 }, "/proc/<pid>/limits shows the new limit");
  t.same(createLibcSys().getrlimit(RLIMIT.NOFILE, r.pid), { soft: 256, hard: 512 }, "prlimit of another pid reads it");
  t.same(openFilesOf(r.child), { soft: 256, hard: 512 }, "a process it spawns inherits it");
});

t.test("raising as PID 1 does lifts a child's limit as far as its capabilities allow, and its services inherit it", async (t) => {
  const r = (await runFixture(t, ["raise"])) as { pid: number; child: number; result: { after: { soft: number; hard: number }; kept?: string } };
  t.same(openFilesOf(r.pid), r.result.after);
  t.same(openFilesOf(r.child), r.result.after, "the spawned process has the raised limit");
  t.equal(r.result.after.soft, r.result.after.hard, "soft is raised to hard");
  if (r.result.kept === undefined) t.equal(r.result.after.hard, Math.max(openFilesOf(process.pid).hard, Math.min(readNrOpen()!, fdLimitCeiling)));
  else t.comment(`no CAP_SYS_RESOURCE here: ${r.result.kept}`);
});
