import { readFile } from "node:fs/promises";
import t from "tap";
import { generatedDocs } from "../../src/config/docs.js";
import { exampleConfigYaml } from "../../src/config/example.js";

const root = new URL("../../", import.meta.url);

for (const doc of generatedDocs()) {
  t.test(`${doc.path} matches the schema`, async (t) => {
    const committed = await readFile(new URL(doc.path, root), "utf8").catch(() => "(missing)");
    t.ok(committed === doc.content, `${doc.path} is stale: run \`npx tsx hack/gen-config-docs.ts\` and commit the result`);
  });
}

t.test("the reference shows the example and describes every field", async (t) => {
  const reference = generatedDocs()[0]!.content;
  t.ok(reference.includes(exampleConfigYaml.trimEnd()));
  const rows = reference.split("\n").filter((l) => l.startsWith("| `"));
  t.ok(rows.length > 60, `${rows.length} fields`);
  for (const row of rows) t.notMatch(row, /\|\s*\|$/, `described: ${row.split("|")[1]}`);
});

t.test("the JSON Schema forbids unknown keys", async (t) => {
  const schema = JSON.parse(generatedDocs()[1]!.content);
  t.equal(schema.additionalProperties, false);
  t.equal(schema.properties.machine.additionalProperties, false);
  t.strictSame(schema.required, ["apiVersion", "kind", "machine"]);
});
