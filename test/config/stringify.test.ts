import t from "tap";
import { exampleConfigYaml } from "../../src/config/example.js";
import { parseConfig } from "../../src/config/parse.js";
import { stringifyConfig } from "../../src/config/stringify.js";
import { configOf, yamlDoc } from "./fixtures.js";

t.test("prints a config that parses back to the same config", async (t) => {
  const config = configOf(exampleConfigYaml);
  const again = parseConfig(stringifyConfig(config));
  t.strictSame(again, { config, warnings: parseConfig(exampleConfigYaml).warnings });
});

t.test("prints keys in schema order and map keys sorted", async (t) => {
  const config = configOf(
    yamlDoc({ cluster: { name: "lab" }, machine: { sysctls: { "vm.b": "1", "net.a": "1" }, hostname: "n", type: "worker" } }),
  );
  t.equal(
    stringifyConfig(config),
    [
      "apiVersion: kiln/v1alpha1",
      "kind: MachineConfig",
      "machine:",
      "  type: worker",
      "  hostname: n",
      "  sysctls:",
      '    net.a: "1"',
      '    vm.b: "1"',
      "cluster:",
      "  name: lab",
      "",
    ].join("\n"),
  );
});

t.test("prints file modes as octal strings", async (t) => {
  const config = configOf(yamlDoc({ machine: { type: "worker", files: [{ path: "/etc/a", content: "x", permissions: 493 }] } }));
  t.match(stringifyConfig(config), /permissions: "0755"/);
});
