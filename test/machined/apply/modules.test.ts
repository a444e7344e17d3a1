// machined's runtime set on the recording fake (its tables are read once for
// the whole set: modules.dep is ~4,000 lines and was read once per name,
// seconds under TCG): each name with its dependencies, builtins needing no
// file, an unknown name failing alone, and a modules directory without
// modules.dep failing every name with the message that says how to fix it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { loadByName, loadRuntimeModules } from "../../../src/machined/apply/modules.js";
import { createFakeSys } from "../../../src/sys/fake.js";

/** A modules directory: bridge needs stp and llc; veth alone; modules.dep and modules.builtin. */
function modulesDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-runtime-modules-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "kernel/net"), { recursive: true });
  for (const m of ["bridge", "stp", "llc", "veth"]) writeFileSync(join(dir, `kernel/net/${m}.ko`), `module ${m}\n`);
  writeFileSync(join(dir, "modules.dep"), ["kernel/net/bridge.ko: kernel/net/stp.ko kernel/net/llc.ko", "kernel/net/stp.ko: kernel/net/llc.ko", "kernel/net/llc.ko:", "kernel/net/veth.ko:", ""].join("\n"));
  writeFileSync(join(dir, "modules.builtin"), "kernel/net/unix.ko\n");
  return dir;
}

t.test("the runtime set: dependencies with each name, builtins need no file, an unknown name fails alone", async (t) => {
  const dir = modulesDir(t);
  const sys = createFakeSys();
  const lines: string[] = [];
  await loadRuntimeModules(sys, ["bridge", "unix", "nope", "veth"], (l) => void lines.push(l), dir);
  t.equal(sys.argsOf("finitModule").length, 4, "llc, stp, bridge, veth: the builtin needs no file, the unknown name none");
  t.same(lines[0], "kernel modules: 4/5 of the runtime set loaded");
  t.match(lines[1], /^kernel modules: nope: unknown kernel module nope: not in .*modules\.dep nor modules\.builtin/);
  t.equal(lines.length, 2);
});

t.test("without modules.dep every name fails saying so, and nothing is loaded", async (t) => {
  const dir = modulesDir(t);
  rmSync(join(dir, "modules.dep"));
  const sys = createFakeSys();
  const lines: string[] = [];
  await loadRuntimeModules(sys, ["bridge", "veth"], (l) => void lines.push(l), dir);
  t.equal(sys.argsOf("finitModule").length, 0);
  t.equal(lines[0], "kernel modules: 0/2 of the runtime set loaded");
  t.match(lines[1], /^kernel modules: bridge: .*modules\.dep is missing/);
  t.match(lines[2], /^kernel modules: veth: .*modules\.dep is missing/);
  const direct = loadByName(sys, dir, ["bridge"]);
  t.match(direct, [{ name: "bridge", outcome: "failed", error: /modules\.dep is missing/ }]);
});
