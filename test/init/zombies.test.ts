import t from "tap";
import { findOrphanZombies, selectOrphanZombies } from "../../src/init/zombies.js";
import { fakeProc } from "./fake-proc.js";

/** The pids libuv spawned, and whether a spawn is in flight in some thread. */
const known = (pids: number[], spawning = false) => ({ has: (pid: number) => pids.includes(pid), spawning: () => spawning });

const us = 100;
const tree = [
  { pid: 1, ppid: 0, state: "S" },
  { pid: us, ppid: 1, state: "S" },
  { pid: 101, ppid: us, state: "Z" }, // orphan zombie: reap
  { pid: 102, ppid: us, state: "Z" }, // zombie libuv spawned: leave for libuv
  { pid: 103, ppid: us, state: "S" }, // live child
  { pid: 104, ppid: 1, state: "Z" }, // someone else's zombie
  { pid: 105, ppid: us, state: "Z", comm: "evil) Z 100 (x" },
];

t.test("selects zombie children we did not spawn", async (t) => {
  const stats = tree.map((p) => ({ ...p, comm: "x", flags: 0 }));
  t.same(selectOrphanZombies(stats, us, known([102])), [101, 105]);
});

t.test("finds them through the task children files", async (t) => {
  const proc = fakeProc(tree, { self: us, threads: { [us]: [101, 102], 200: [103, 105] } });
  t.teardown(proc.cleanup);
  t.same(findOrphanZombies(proc.root, us, known([102])).sort(), [101, 105]);
});

t.test("finds them by scanning every pid when there are no children files", async (t) => {
  const proc = fakeProc(tree);
  t.teardown(proc.cleanup);
  t.same(findOrphanZombies(proc.root, us, known([102])).sort(), [101, 105]);
});

t.test("skips a child that vanished between listing and reading", async (t) => {
  const proc = fakeProc(tree, { self: us, threads: { [us]: [101, 999] } });
  t.teardown(proc.cleanup);
  t.same(findOrphanZombies(proc.root, us, known([])), [101]);
});

t.test("takes no zombie while a spawn is in flight: its pid may not be known yet", async (t) => {
  const stats = tree.map((p) => ({ ...p, comm: "x", flags: 0 }));
  let asked = 0;
  const spawned = {
    has: () => false,
    spawning: () => {
      asked++;
      return true;
    },
  };
  t.same(selectOrphanZombies(stats, us, spawned), []);
  t.equal(asked, 1, "asked once, after seeing the zombies");
  t.same(selectOrphanZombies([], us, known([], true)), [], "no zombies: nothing to hold back");
});
