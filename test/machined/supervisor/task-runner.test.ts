// A service run as a task of machined: its log, its exit when it returns,
// throws or is stopped.
import { setTimeout as sleep } from "node:timers/promises";
import t from "tap";
import { taskRunner } from "../../../src/machined/supervisor/task-runner.js";

const collect = () => {
  const chunks: string[] = [];
  return { sink: { write: (c: Uint8Array) => chunks.push(Buffer.from(c).toString()) }, text: () => chunks.join("") };
};

t.test("a task that returns exits 0; one that throws exits 1 with its message logged", async (t) => {
  const ok = collect();
  t.same(await taskRunner(async ({ log }) => log("did it")).start(ok.sink).exited, { code: 0, signal: null });
  t.equal(ok.text(), "did it\n");
  const bad = collect();
  t.same(await taskRunner(async () => Promise.reject(new Error("no API server"))).start(bad.sink).exited, { code: 1, signal: null });
  t.equal(bad.text(), "failed: no API server\n");
});

t.test("stopping aborts the task's signal; it ends by the signal, not as a failure", async (t) => {
  const out = collect();
  const running = taskRunner(async ({ signal }) => {
    await sleep(60_000, undefined, { signal });
  }).start(out.sink);
  t.equal(running.pid, process.pid, "machined's own pid");
  setTimeout(() => running.signal("SIGTERM"), 20);
  t.same(await running.exited, { code: null, signal: "SIGTERM" });
  t.equal(out.text(), "", "an abort is not logged as a failure");
  const quiet = taskRunner(async ({ signal }) => new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()))).start(out.sink);
  quiet.killAll();
  t.same(await quiet.exited, { code: 0, signal: "SIGTERM" }, "a task that returns on abort");
});
