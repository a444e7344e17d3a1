// loadModules on the recording fake: each module's outcome, parameters passed
// through, and one failure never stopping the rest.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { loadModules } from "../../src/init/modules.js";
import { createFakeSys } from "../../src/sys/fake.js";

/** Dummy module files in a scratch directory, by name. */
function modules(t: Test, ...names: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), "kiln-modules-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return names.map((n) => {
    writeFileSync(join(dir, n), `module ${n}\n`);
    return join(dir, n);
  });
}

t.test("loads each module in order and passes its parameters", async (t) => {
  const [a, b] = modules(t, "virtio-net.ko", "loop.ko.zst") as [string, string];
  const sys = createFakeSys();
  const results = loadModules(sys, [{ file: a }, { file: b, params: "max_loop=8" }]);
  t.same(results, [
    { name: "virtio_net", outcome: "loaded" },
    { name: "loop", outcome: "loaded" },
  ]);
  t.same(sys.argsOf("finitModule").map((args) => args.slice(1)), [["", 0], ["max_loop=8", 0]]);
  t.ok(sys.argsOf("finitModule").every(([fd]) => typeof fd === "number" && fd >= 0), "an open descriptor each");
});

t.test("a module already loaded (EEXIST) counts as present", async (t) => {
  const [a] = modules(t, "overlay.ko") as [string];
  const sys = createFakeSys();
  sys.failOn("finitModule", undefined, "EEXIST");
  t.same(loadModules(sys, [{ file: a }]), [{ name: "overlay", outcome: "present" }]);
});

t.test("another error fails that module with the message and the rest still load", async (t) => {
  const [a, b] = modules(t, "bad.ko", "good.ko") as [string, string];
  const sys = createFakeSys();
  sys.failOn("finitModule", (_fd: number, params: string) => params === "broken=1", "ENOEXEC");
  const results = loadModules(sys, [{ file: a, params: "broken=1" }, { file: b }]);
  t.match(results[0], { name: "bad", outcome: "failed", error: /finitModule.*ENOEXEC/ });
  t.same(results[1], { name: "good", outcome: "loaded" });
  t.equal(sys.argsOf("finitModule").length, 2);
});

t.test("a missing file fails without calling finit_module", async (t) => {
  const [b] = modules(t, "good.ko") as [string];
  const sys = createFakeSys();
  const results = loadModules(sys, [{ file: "/nonexistent/kiln/missing.ko.xz" }, { file: b }]);
  t.match(results[0], { name: "missing", outcome: "failed", error: /ENOENT.*missing\.ko\.xz/ });
  t.same(results[1], { name: "good", outcome: "loaded" });
  t.equal(sys.argsOf("finitModule").length, 1);
});
