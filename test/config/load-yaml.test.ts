import t from "tap";
import { parse } from "yaml";
import { loadYaml } from "../../src/config/load-yaml.js";

/** A config of `bytes` with one sysctl a line: many keys in one map. */
function manyKeys(bytes: number): string {
  const lines = ["apiVersion: kiln/v1alpha1", "kind: MachineConfig", "machine:", "  sysctls:"];
  let size = lines.join("\n").length;
  for (let i = 0; size < bytes; i++) {
    const line = `    net.key${i}.value: "${i}"`;
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join("\n")}\n`;
}

/** Milliseconds `fn` takes, the fastest of `runs`. */
function fastest(runs: number, fn: () => unknown): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

// yaml's duplicate-key check compared each key with every earlier one: a
// 302 KiB config held machined's event loop for 9.4 s.
t.test("parses a 250 KiB config of many keys within a small factor of yaml's plain parse", async (t) => {
  const text = manyKeys(250 * 1024);
  const floor = fastest(3, () => parse(text, { uniqueKeys: false }));
  const ours = fastest(1, () => loadYaml(text));
  const factor = 5;
  t.ok(ours < floor * factor, `loadYaml ${ours.toFixed(0)} ms < ${factor} × plain parse ${floor.toFixed(0)} ms`);
  t.ok("value" in loadYaml(text));
});

t.test("still finds a repeated key, in a deep map, at its line and column", async (t) => {
  const text = "machine:\n  sysctls:\n    a: \"1\"\n    b: \"2\"\n    a: \"3\"\n";
  t.same(loadYaml(text), { errors: ["YAML syntax error at line 5, column 5: Map keys must be unique"], warnings: [] });
});

t.test("tells keys of different types apart, as yaml does", async (t) => {
  t.ok("value" in loadYaml("a:\n  1: x\n  \"1\": y\n"));
});
