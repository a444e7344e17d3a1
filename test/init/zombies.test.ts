import t from "tap";
import { findOrphanZombies, selectOrphanZombies } from "../../src/init/zombies.js";
import { fakeProc } from "./fake-proc.js";

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
  t.same(selectOrphanZombies(stats, us, new Set([102])), [101, 105]);
});

t.test("finds them through the task children files", async (t) => {
  const proc = fakeProc(tree, { self: us, threads: { [us]: [101, 102], 200: [103, 105] } });
  t.teardown(proc.cleanup);
  t.same(findOrphanZombies(proc.root, us, new Set([102])).sort(), [101, 105]);
});

t.test("finds them by scanning every pid when there are no children files", async (t) => {
  const proc = fakeProc(tree);
  t.teardown(proc.cleanup);
  t.same(findOrphanZombies(proc.root, us, new Set([102])).sort(), [101, 105]);
});

t.test("skips a child that vanished between listing and reading", async (t) => {
  const proc = fakeProc(tree, { self: us, threads: { [us]: [101, 999] } });
  t.teardown(proc.cleanup);
  t.same(findOrphanZombies(proc.root, us, new Set()), [101]);
});
