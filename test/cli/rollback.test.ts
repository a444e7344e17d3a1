// `kilnctl rollback`: its flags as the request the machine gets, and the slot
// and version it reboots into as the machine reports them.
import t from "tap";
import { runCli } from "../../src/cli/program.js";
import { RebootMode } from "../../src/gen/kiln/machine/v1/machine_pb.js";
import { createFakeDeps } from "./fixtures/fake-deps.js";
import { startFakeUpgradeServer } from "./fixtures/fake-upgrade-server.js";

const server = await startFakeUpgradeServer();
t.teardown(() => server.close());
t.beforeEach(() => server.reset());

/** Runs `kilnctl -e <fake> ARGS` in-process. */
async function kilnctl(args: string[]) {
  const deps = createFakeDeps();
  const code = await runCli(["-e", server.endpoint, ...args], deps);
  return { code, out: deps.out(), err: deps.err() };
}

t.test("without flags: the default reboot mode, graceful; prints the slot and version it reboots into", async (t) => {
  const r = await kilnctl(["rollback", "-o", "json"]);
  t.equal(r.code, 0, r.err);
  t.same(server.rollbacks.map((q) => [q.rebootMode, q.force]), [[RebootMode.DEFAULT, false]]);
  t.same(JSON.parse(r.out), { node: "node-a", slot: "A", version: "0.1.0", rebootMode: "default", force: false });
});

t.test("--reboot-mode powercycle --force pass through; the table names the slot", async (t) => {
  const r = await kilnctl(["rollback", "--reboot-mode", "powercycle", "--force"]);
  t.equal(r.code, 0, r.err);
  t.same(server.rollbacks.map((q) => [q.rebootMode, q.force]), [[RebootMode.POWERCYCLE, true]]);
  t.equal(r.out, "NODE    SLOT  VERSION  REBOOT-MODE  RESULT\nnode-a  A     0.1.0    powercycle   rebooting\n");
  const y = await kilnctl(["rollback", "-o", "yaml"]);
  t.equal(y.out, "node: node-a\nslot: A\nversion: 0.1.0\nrebootMode: default\nforce: false\n");
});

t.test("an unknown --reboot-mode is a usage error and nothing is called", async (t) => {
  const r = await kilnctl(["rollback", "--reboot-mode", "kexec"]);
  t.equal(r.code, 2);
  t.match(r.err, /^kilnctl: usage: option '--reboot-mode <mode>' argument 'kexec' is invalid/);
  t.same(server.rollbacks, []);
});
