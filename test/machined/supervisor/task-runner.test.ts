// Work machined does itself, run as a service: its pid is machined's, a stop
// aborts its signal, and a throw exits 1 with the message in its log.
import t from "tap";
import { taskRunner } from "../../../src/machined/supervisor/task-runner.js";

const sink = () => {
  const out: string[] = [];
  return { out, write: (c: Uint8Array) => void out.push(Buffer.from(c).toString()) };
};

t.test("runs in machined's process until SIGTERM aborts its signal", async (t) => {
  const log = sink();
  const proc = taskRunner((line, signal) => new Promise((resolve) => {
    line("started");
    signal.addEventListener("abort", () => resolve());
  })).start(log);
  t.equal(proc.pid, process.pid);
  proc.signal("SIGTERM");
  t.same(await proc.exited, { code: null, signal: "SIGTERM" });
  t.same(log.out, ["started\n"]);
});

t.test("a task that ends exits 0; one that throws exits 1 and logs why", async (t) => {
  t.same(await taskRunner(async () => {}).start(sink()).exited, { code: 0, signal: null });
  const log = sink();
  t.same(await taskRunner(async () => {
    throw new Error("listing nodes: 403 forbidden");
  }).start(log).exited, { code: 1, signal: null });
  t.same(log.out, ["listing nodes: 403 forbidden\n"]);
});
