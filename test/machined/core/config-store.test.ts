// The stored config on STATE: round trip, an invalid file reported as a
// value, atomic replacement with nothing left behind.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { createConfigStore } from "../../../src/machined/config-store.js";
import { configOf, worker } from "../../config/fixtures.js";
import { tempDir } from "../helpers.js";
import { needsRoot } from "../../init/needs-root.js";
import { tinyTmpfs } from "../tmpfs.js";

t.test("reports no config when none was saved", async (t) => {
  const store = createConfigStore(join(tempDir(t), "state"));
  t.same(store.load(), { t: "none" });
});

t.test("keeps config.yaml under the state directory", async (t) => {
  t.equal(createConfigStore("/system/state").path, "/system/state/config.yaml");
});

t.test("loads back what it saved, validated, with the text as saved", async (t) => {
  const state = join(tempDir(t), "state");
  const store = createConfigStore(state);
  const yaml = `# my node\n${worker({ hostname: "node-1", env: { A: "1" } })}`;
  store.save(yaml);
  t.same(store.load(), { t: "ok", config: configOf(yaml), yaml, warnings: [] });
  t.equal(readFileSync(join(state, "config.yaml"), "utf8"), yaml);
});

t.test("carries the config's warnings through a load", async (t) => {
  const store = createConfigStore(tempDir(t));
  store.save(worker({}).replace("type: worker", "type: controlplane"));
  const loaded = store.load();
  t.equal(loaded.t, "ok");
  t.same(loaded.t === "ok" && loaded.warnings, [
    "cluster.controlPlane.endpoint: not set; a controlplane machine needs it so kubelets and clients reach the API server",
    "cluster.etcd.ca: not set (with its key); a controlplane machine runs etcd only with it: kilnctl gen config writes it into controlplane.yaml",
    "cluster.ca: not set (with its key); a controlplane machine runs the API server, controller manager and scheduler only with it: kilnctl gen config writes it into controlplane.yaml",
    "cluster.serviceAccount.key: not set; a controlplane machine runs the API server, controller manager and scheduler only with it: kilnctl gen config writes it into controlplane.yaml",
    "cluster.frontProxy.ca: not set (with its key); a controlplane machine runs the API server, controller manager and scheduler only with it: kilnctl gen config writes it into controlplane.yaml",
  ]);
});

t.test("reports an invalid stored config with every error", async (t) => {
  const store = createConfigStore(tempDir(t));
  store.save(worker({ hostname: "Bad_Name" }).replace("type: worker", "type: boss"));
  t.same(store.load(), {
    t: "invalid",
    errors: [
      'machine.type: expected one of worker, controlplane, got "boss"',
      "machine.hostname: expected a lowercase RFC 1123 hostname such as node-1 or node-1.example.com (labels of 1-63 characters a-z, 0-9 and '-', 253 in all), got \"Bad_Name\"",
    ],
    warnings: [],
  });
});

t.test("reports a stored file that is not YAML as invalid", async (t) => {
  const state = tempDir(t);
  writeFileSync(join(state, "config.yaml"), "machine: [oops");
  t.same(createConfigStore(state).load(), {
    t: "invalid",
    errors: ["YAML syntax error at line 1, column 15: Flow sequence in block collection must be sufficiently indented and end with a ]"],
    warnings: [],
  });
});

t.test("creates the state directory private and the file owner-only", async (t) => {
  const state = join(tempDir(t), "system", "state");
  createConfigStore(state).save(worker({}));
  t.equal(statSync(state).mode & 0o777, 0o700);
  t.equal(statSync(join(state, "config.yaml")).mode & 0o777, 0o600);
});

t.test("replaces the saved config and leaves no temp files", async (t) => {
  const state = tempDir(t);
  const store = createConfigStore(state);
  store.save(worker({ hostname: "a" }));
  store.save(worker({ hostname: "b" }));
  const loaded = store.load();
  t.equal(loaded.t === "ok" && loaded.config.machine.hostname, "b");
  t.same(readdirSync(state).sort(), ["config.good.yaml", "config.yaml"], "the config and its last known good copy, no temp files");
});

t.test("saves into a state directory that already exists without changing its mode", async (t) => {
  const state = join(tempDir(t), "state");
  mkdirSync(state, { mode: 0o755 });
  createConfigStore(state).save(worker({}));
  t.equal(statSync(state).mode & 0o777, 0o755);
});

t.test("a save onto a full STATE throws exhausted and leaves both old copies byte-identical", async (t) => {
  if (!needsRoot(t)) return;
  const state = tinyTmpfs(t, "16k");
  const store = createConfigStore(state);
  const old = worker({ hostname: "old" });
  store.save(old);
  // Two pages hold the two copies; fill one more, so one page (4,096 bytes) is left.
  writeFileSync(join(state, "filler"), Buffer.alloc(4096));
  const big = `${worker({ hostname: "new" })}# ${"x".repeat(15_000)}\n`;
  t.throws(() => store.save(big), { kind: "exhausted", message: /no space left/ });
  t.equal(readFileSync(store.path, "utf8"), old);
  t.equal(readFileSync(store.goodPath, "utf8"), old);
  t.same(readdirSync(state).sort(), ["config.good.yaml", "config.yaml", "filler"], "no temp file left");
  t.same(store.load(), { t: "ok", config: configOf(old), yaml: old, warnings: [] });
});
