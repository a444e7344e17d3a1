// Writes the machine config reference and JSON Schema from src/config/schema.ts.
// Run: npx tsx hack/gen-config-docs.ts
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { generatedDocs } from "../src/config/docs.js";

const root = fileURLToPath(new URL("..", import.meta.url));

for (const doc of generatedDocs()) {
  await writeFile(`${root}${doc.path}`, doc.content);
  console.log(`wrote ${doc.path}`);
}
