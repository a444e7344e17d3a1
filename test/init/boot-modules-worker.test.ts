// The boot set's loader on a real worker thread (stage 1's): it says it is
// ready, loads the descriptors the main thread opened with the real
// finit_module (on files that are no modules, so the kernel refuses each and
// nothing is loaded into the host), and hands back one result per module.
// A worker that never gets ready is ended and the main thread loads instead.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { loaderInPlace, loaderOnWorker } from "../../src/init/boot-modules-worker.js";
import { openModules } from "../../src/init/modules.js";
import { createFakeSys } from "../../src/sys/fake.js";

// Node 20 does not carry --import tsx into workers: the worker registers it, then loads the fixture.
const fixture = new URL("../fixtures/init/module-worker.ts", import.meta.url).href;
const script = `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((tsx) => tsx.register()).then(() => import(${JSON.stringify(fixture)}))`;

/** Files that are not modules, opened as stage 1 opens the boot set. */
function opened(t: Test, ...names: string[]) {
  const dir = mkdtempSync(join(tmpdir(), "kiln-boot-modules-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const n of names) writeFileSync(join(dir, `${n}.ko`), "not a module\n");
  return openModules(names.map((n) => ({ file: join(dir, `${n}.ko`) })));
}

t.test("a worker says it is ready, loads what it is handed with the real finit_module, and returns each outcome", async (t) => {
  const sys = createFakeSys();
  const loader = loaderOnWorker(sys, script, true);
  const mods = opened(t, "first", "second");
  loader.load(mods);
  t.ok(loader.started(60_000), "ready within the wait");
  const results = await loader.done;
  t.same(results.map((r) => [r.name, r.outcome]), [["first", "failed"], ["second", "failed"]], "the kernel refuses a file that is no module");
  t.match(results[0]?.error, /finit_module/, "the error names the call");
  t.same(sys.calls, [], "the main thread's sys was not used");
});

t.test("a worker that never gets ready is ended; the main thread loads the set", async (t) => {
  process.env.KILN_TEST_WORKER_IDLE = "1";
  t.teardown(() => {
    delete process.env.KILN_TEST_WORKER_IDLE;
  });
  const sys = createFakeSys();
  const loader = loaderOnWorker(sys, script, true);
  loader.load(opened(t, "only"));
  t.notOk(loader.started(300), "not ready");
  t.same(await loader.done, [{ name: "only", outcome: "loaded" }]);
  t.same(sys.argsOf("finitModule").length, 1, "loaded on the main thread");
});

t.test("in place: loads when handed the set, in order", async (t) => {
  const sys = createFakeSys();
  const loader = loaderInPlace(sys);
  loader.load(opened(t, "a", "b"));
  t.ok(loader.started(0));
  t.same(await loader.done, [
    { name: "a", outcome: "loaded" },
    { name: "b", outcome: "loaded" },
  ]);
});
