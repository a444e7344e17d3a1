// The machine id: 32 hex digits made on first boot and kept on STATE.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { loadMachineId } from "../../../src/machined/machine-id.js";
import { tempDir } from "../helpers.js";

t.test("makes a 32 hex digit id on first boot and keeps it", async (t) => {
  const state = join(tempDir(t), "state");
  const id = loadMachineId(state);
  t.match(id, /^[0-9a-f]{32}$/);
  t.equal(loadMachineId(state), id);
  t.equal(loadMachineId(state), id);
  t.equal(readFileSync(join(state, "machine-id"), "utf8"), `${id}\n`);
  t.equal(statSync(join(state, "machine-id")).mode & 0o777, 0o644);
  t.same(readdirSync(state), ["machine-id"], "no temp file left");
});

t.test("gives two machines different ids", async (t) => {
  t.not(loadMachineId(tempDir(t)), loadMachineId(tempDir(t)));
});

t.test("reads an id written elsewhere, ignoring surrounding whitespace", async (t) => {
  const state = tempDir(t);
  writeFileSync(join(state, "machine-id"), "  00112233445566778899aabbccddeeff \n");
  t.equal(loadMachineId(state), "00112233445566778899aabbccddeeff");
});

t.test("replaces a stored id that is not 32 lowercase hex digits", async (t) => {
  for (const bad of ["", "xyz", "00112233445566778899AABBCCDDEEFF", "00112233445566778899aabbccddeeff00"]) {
    const state = tempDir(t);
    writeFileSync(join(state, "machine-id"), bad);
    const id = loadMachineId(state);
    t.match(id, /^[0-9a-f]{32}$/, JSON.stringify(bad));
    t.not(id, bad.trim());
    t.equal(readFileSync(join(state, "machine-id"), "utf8"), `${id}\n`);
  }
});
