// Config parsing in a worker thread: the same answers as parseConfig, the
// caller's event loop free while a costly config is parsed, a deadline that
// ends the worker, and a fresh worker afterwards.
import { monitorEventLoopDelay } from "node:perf_hooks";
import t from "tap";
import { parseConfig } from "../../../src/config/parse.js";
import { stringifyConfig } from "../../../src/config/stringify.js";
import { configOf, worker } from "../../config/fixtures.js";
import { bundledConfigParsers } from "../../fixtures/config/config-worker.js";

const valid = stringifyConfig(configOf(worker({})));

// The worker as the machine runs it: bundled by the image builder's own entry.
const createConfigParser = bundledConfigParsers(t);

t.test("answers what parseConfig answers, valid or not", async (t) => {
  const parser = createConfigParser();
  t.same(await parser.parse(valid), parseConfig(valid));
  t.same(await parser.parse("machine: [oops"), parseConfig("machine: [oops"));
  const both = await Promise.all([parser.parse(valid), parser.parse("version: v1alpha1\n")]);
  t.same(both, [parseConfig(valid), parseConfig("version: v1alpha1\n")], "two at once, each its own answer");
});

t.test("a costly config leaves the caller's event loop free", async (t) => {
  const parser = createConfigParser();
  await parser.parse(valid); // the worker is started
  // Deeply nested flow maps: far more parser time per byte than anything else (the fuzz tier's finding).
  const costly = `machine:\n  env: ${"{a: ".repeat(3000)}1${"}".repeat(3000)}\n`;
  const h = monitorEventLoopDelay({ resolution: 10 });
  await new Promise((r) => setTimeout(r, 20));
  h.enable();
  const t0 = performance.now();
  const result = await parser.parse(costly);
  const took = performance.now() - t0;
  h.disable();
  t.ok("errors" in result, "refused with its problems");
  t.ok(h.max / 1e6 < 200, `the loop was never blocked 200 ms (max ${(h.max / 1e6).toFixed(0)} ms while the parse took ${took.toFixed(0)} ms)`);
});

t.test("flow maps nested 10,000 deep are refused as too deep, not a worker out of memory", async (t) => {
  // The fuzz tier's case (seed 1802071150): with the worker's default 4 MiB stack the parser went ~13,000 columns deep
  // and its 256 MiB heap ran out; on a 1 MiB stack, as on the main thread, it stops at ~3,000 with a few MiB in use.
  const parser = createConfigParser();
  const deep = `apiVersion: kiln/v1alpha1\nkind: MachineConfig\nmachine2: ${"{a: ".repeat(10_000)}1${"}".repeat(10_000)}\n`;
  const result = await parser.parse(deep);
  t.ok("errors" in result, "refused, not thrown");
  const column = "errors" in result ? Number(/^YAML syntax error at line 3, column (\d+): the document nests too deeply here; flatten it$/.exec(result.errors[0] ?? "")?.[1]) : 0;
  t.ok(column > 0 && column < 6000, `stopped at column ${column} of line 3 (a 1 MiB stack, not 4)`);
  t.same(await parser.parse(valid), parseConfig(valid), "and the same worker goes on");
});

t.test("past its deadline the worker is ended, the caller told why, and the next parse works", async (t) => {
  const parser = createConfigParser({ deadlineMs: 1 });
  const big = `${valid}\nmachine_extra: ${"{a: ".repeat(3000)}1${"}".repeat(3000)}\n`;
  await t.rejects(parser.parse(big), { kind: "invalid", message: /took over 0\.001 s to parse; nothing was changed/ });
  const roomy = createConfigParser();
  t.same(await roomy.parse(valid), parseConfig(valid));
});

t.test("a worker with nothing to parse is ended, and the next parse starts another", async (t) => {
  const parser = createConfigParser({ idleMs: 50 });
  t.notOk(parser.running(), "none before the first parse");
  t.same(await parser.parse(valid), parseConfig(valid));
  t.ok(parser.running(), "started by the parse");
  for (const end = Date.now() + 5000; parser.running() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
  t.notOk(parser.running(), "ended once idle");
  t.same(await parser.parse(valid), parseConfig(valid), "a new one parses");
});
