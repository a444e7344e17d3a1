// apid's wait for the TLS directory machined writes while it starts.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { tlsComplete } from "../../src/apid/tls-complete.js";
import { scratchDir } from "../fixtures/scratch.js";

const fast = { everyMs: 5, timeoutMs: 2000 };

t.test("resolves once the complete file holds this start's stamp, not another's", async (t) => {
  const dir = join(scratchDir("kiln-tls-complete-"), "tls");
  mkdirSync(dir);
  writeFileSync(join(dir, "complete"), "an older start");
  let waited = 0;
  let done = false;
  const wait = tlsComplete(dir, "s-2", () => waited++, fast).then(() => (done = true));
  await new Promise((r) => setTimeout(r, 50));
  t.notOk(done, "an older start's directory is not read");
  writeFileSync(join(dir, "complete"), "s-2");
  await wait;
  t.equal(waited, 1, "told once that it waits");
});

t.test("resolves at once, saying nothing, when the directory is already complete", async (t) => {
  const dir = scratchDir("kiln-tls-complete-");
  writeFileSync(join(dir, "complete"), "s");
  let waited = 0;
  await tlsComplete(dir, "s", () => waited++, fast);
  t.equal(waited, 0);
});

t.test("gives up after its timeout, naming the file and what it found", async (t) => {
  const dir = scratchDir("kiln-tls-complete-");
  await t.rejects(tlsComplete(dir, "s", () => {}, { everyMs: 5, timeoutMs: 60 }), /complete is not there \(or not readable\) after 0\.06 s: machined writes it last/);
  writeFileSync(join(dir, "complete"), "other");
  await t.rejects(tlsComplete(dir, "s", () => {}, { everyMs: 5, timeoutMs: 60 }), /holds another start's stamp/);
});
