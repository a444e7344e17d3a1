// `kilnctl reset`: its flags as the request the machine gets, --wipe checked
// before any call, and the per-node record it prints.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { parseWipe } from "../../src/cli/commands/reset.js";
import { runCli } from "../../src/cli/program.js";
import { startMachineApi } from "../../src/machined/api/server.js";
import { createFakeMachine } from "../machined/api/fixtures/fake-machine.js";
import { createFakeDeps } from "./fixtures/fake-deps.js";

const dir = await mkdtemp(join(tmpdir(), "kilnctl-reset-"));
const machine = createFakeMachine();
const api = await startMachineApi(machine, join(dir, "m.sock"), { node: () => "node-a", closeGraceMs: 100 });
t.teardown(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs `kilnctl -e <socket> ARGS` in-process. */
async function kilnctl(args: string[]) {
  const deps = createFakeDeps();
  const code = await runCli(["-e", join(dir, "m.sock"), ...args], deps);
  return { code, out: deps.out(), err: deps.err() };
}

t.test("parseWipe: both by default, a comma list in a fixed order, anything else refused", async (t) => {
  t.same(parseWipe(undefined), ["state", "ephemeral"]);
  t.same(parseWipe("ephemeral, state"), ["state", "ephemeral"]);
  t.same(parseWipe("ephemeral"), ["ephemeral"]);
  for (const bad of ["", ",", "state,var", "STATE"]) {
    t.throws(() => parseWipe(bad), { name: "CliError", message: `--wipe: expected one or more of state, ephemeral, comma-separated, got "${bad}"` }, bad);
  }
});

t.test("without flags: wipe both, forced, power off", async (t) => {
  machine.calls.length = 0;
  const r = await kilnctl(["reset", "-o", "json"]);
  t.equal(r.code, 0, r.err);
  t.same(JSON.parse(r.out), { node: "node-a", wipe: ["state", "ephemeral"], graceful: false, after: "poweroff" });
  t.same(machine.calls, ["reset graceful=false reboot=false wipe=state,ephemeral"]);
});

t.test("--graceful --reboot --wipe pass through, and the table says what was requested", async (t) => {
  machine.calls.length = 0;
  const r = await kilnctl(["reset", "--graceful", "--reboot", "--wipe", "ephemeral"]);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^NODE\s+WIPE\s+GRACEFUL\s+AFTER\s+RESULT\nnode-a\s+ephemeral\s+yes\s+reboot\s+requested\n$/);
  t.same(machine.calls, ["reset graceful=true reboot=true wipe=ephemeral"]);
  const y = await kilnctl(["reset", "--wipe", "state", "-o", "yaml"]);
  t.equal(y.out, "node: node-a\nwipe:\n  - state\ngraceful: false\nafter: poweroff\n");
});

t.test("an unknown --wipe target is a usage error (exit 2) and nothing is called", async (t) => {
  machine.calls.length = 0;
  const r = await kilnctl(["reset", "--wipe", "state,boot"]);
  t.equal(r.code, 2);
  t.equal(r.err, 'kilnctl: --wipe: expected one or more of state, ephemeral, comma-separated, got "state,boot"\n');
  t.equal(r.out, "");
  t.same(machine.calls, []);
});
