import { realpathSync } from "node:fs";
import t from "tap";
import { parseProcStat, parseStatusRss, readProcess, readProcesses } from "../../../src/machined/inspect/processes.js";

const stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 7 0 100 104857600 2560 18446744073709551615";

t.test("parses stat even when the command name has spaces and parentheses", async (t) => {
  t.same(parseProcStat(stat), {
    value: { pid: 1234, comm: "my (odd) name", state: "S", ppid: 1, cpuTime: 3, threads: 7, virtualMemory: 104857600 },
  });
});

t.test("refuses a truncated stat line, saying why", async (t) => {
  t.match(parseProcStat("1 (init) S 0 1"), { error: /expected at least 24 fields/ });
  t.match(parseProcStat("no parens"), { error: /no "\(comm\)"/ });
});

t.test("takes the resident set from status, 0 for kernel threads", async (t) => {
  t.equal(parseStatusRss("Name:\tnode\nVmRSS:\t   51200 kB\nThreads:\t7\n"), 51200 * 1024);
  t.equal(parseStatusRss("Name:\tkthreadd\nThreads:\t1\n"), 0);
});

t.test("reads this test's own process from /proc", async (t) => {
  const me = await readProcess("/proc", process.pid);
  t.ok(me, "found");
  t.equal(me!.ppid, process.ppid);
  t.equal(me!.executable, realpathSync(process.execPath));
  t.match(me!.args, /processes\.test\.ts/);
  t.ok(me!.residentMemory > 0 && me!.virtualMemory >= me!.residentMemory, "memory in bytes");
  t.ok(me!.cpuTime > 0, "it has used some CPU");
  t.ok(me!.threads >= 1);
  t.equal(me!.state, "R");
});

t.test("lists every process in pid order and skips one that is gone", async (t) => {
  const all = await readProcesses("/proc");
  t.ok(all.some((p) => p.pid === process.pid));
  t.ok(all.every((p, i) => i === 0 || p.pid > all[i - 1]!.pid), "sorted by pid");
  t.equal(await readProcess("/proc", 2 ** 22 + 1), undefined);
});
