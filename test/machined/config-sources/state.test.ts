// Source "state": config.yaml, or the last known good copy when config.yaml
// cannot be read or no longer validates (said in a note); the store writes
// both on every save.
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import t from "tap";
import { createConfigStore } from "../../../src/machined/config-store.js";
import { stateSource } from "../../../src/machined/config-sources/state.js";
import { worker } from "../../config/fixtures.js";
import { scratchDir } from "../../fixtures/scratch.js";

const setup = () => {
  const dir = scratchDir("kiln-state-");
  const store = createConfigStore(dir);
  const notes: string[] = [];
  return { dir, store, notes, fetch: () => stateSource(store).fetch((n) => notes.push(n)) };
};

t.test("save writes config.yaml and the last known good copy", async (t) => {
  const s = setup();
  s.store.save(worker({ hostname: "a" }));
  t.equal(readFileSync(s.store.goodPath, "utf8"), readFileSync(s.store.path, "utf8"));
  const r = await s.fetch();
  t.equal(r.t, "found");
  t.match(r.t === "found" ? r.yaml : "", /hostname: a/);
  t.same(s.notes, []);
});

t.test("a torn or invalid config.yaml falls back to the good copy, saying why", async (t) => {
  const s = setup();
  s.store.save(worker({ hostname: "good" }));
  writeFileSync(s.store.path, "apiVersion: kiln/v1alpha1\nkind: MachineConfig\nmachine:\n  type: wor"); // torn
  const r = await s.fetch();
  t.equal(r.t, "found");
  if (r.t !== "found") return;
  t.match(r.yaml, /hostname: good/);
  t.match(r.origin, /config\.good\.yaml \(last known good\)/);
  t.match(s.notes.join("\n"), /config\.yaml no longer validates; falling back to the last known good config/);
});

t.test("an unreadable config.yaml falls back too", async (t) => {
  if (process.getuid?.() === 0) {
    // root reads anything: make config.yaml a directory instead
    const s = setup();
    s.store.save(worker({ hostname: "good" }));
    const { rmSync, mkdirSync } = await import("node:fs");
    rmSync(s.store.path);
    mkdirSync(s.store.path);
    const r = await s.fetch();
    t.equal(r.t, "found");
    t.match(s.notes.join("\n"), /reading .*config\.yaml: .*EISDIR.*falling back/);
    return;
  }
  const s = setup();
  s.store.save(worker({ hostname: "good" }));
  chmodSync(s.store.path, 0);
  const r = await s.fetch();
  t.equal(r.t, "found");
  t.match(s.notes.join("\n"), /falling back/);
});

t.test("no files: none; an invalid config.yaml without a good copy is reported as it is", async (t) => {
  const s = setup();
  t.equal((await s.fetch()).t, "none");
  writeFileSync(s.store.path, "machine: {}\n");
  const r = await s.fetch();
  t.equal(r.t, "found", "acquire validates it and stays in maintenance with the messages");
  t.same(s.notes, []);
});
