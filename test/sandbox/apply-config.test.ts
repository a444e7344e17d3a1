// Maintenance mode, apply-config modes and reboot, against a real sandbox.
import { rmSync, writeFileSync } from "node:fs";
import t from "tap";
import { alive, consoleTail, createSandbox, destroySandbox, inSandbox, kilnctl, kilnctlJson, type Sandbox, services, waitFor } from "./sandbox-helpers.js";

const name = "t-apply";
let sb: Sandbox;

const config = (hostname: string, extra = "") => `apiVersion: kiln/v1alpha1
kind: MachineConfig
machine:
  type: worker
  hostname: ${hostname}
${extra}`;

t.before(() => {
  sb = createSandbox(name);
});
t.teardown(() => {
  destroySandbox(name);
});
t.afterEach((t) => {
  if (!t.passing()) t.comment(`console of ${name}:\n${consoleTail(sb)}`);
});

const ctl = (...args: string[]) => kilnctl(["-e", sb.localEndpoint, ...args]);
const hostname = () => inSandbox(sb, ["-u"], ["hostname"]).stdout.trim();
const storedConfig = () => ctl("get", "config").stdout;
/** Applies YAML from a temp file through kilnctl. */
const apply = (yaml: string, ...flags: string[]) => {
  const file = `/tmp/kiln-apply-${process.pid}.yaml`;
  writeFileSync(file, yaml);
  try {
    return ctl("apply-config", "-f", file, ...flags);
  } finally {
    rmSync(file, { force: true });
  }
};

interface VersionOut {
  maintenance: boolean;
}

t.test("a machine started without config is in maintenance mode", async (t) => {
  t.equal(kilnctlJson<VersionOut>(["-e", sb.localEndpoint, "version"]).maintenance, true);
  t.same(services(sb).map((s) => s.id), ["apid"], "only apid (in maintenance mode) runs before a config arrives");
  t.match(hostname(), /^kiln-[0-9a-f]{6}$/, "the hostname comes from the machine id");
});

t.test("an invalid config is refused with every error and changes nothing", async (t) => {
  const before = hostname();
  const r = apply(config("Bad_Name", "  bogus: 1\n"));
  t.equal(r.code, 1);
  t.match(r.stderr, /machine\.hostname: expected a lowercase RFC 1123 hostname/);
  t.match(r.stderr, /machine\.bogus: unknown key/);
  t.equal(r.stderr.trim().split("\n").length, 1, "one line on stderr");
  t.equal(hostname(), before);
  t.equal(kilnctlJson<VersionOut>(["-e", sb.localEndpoint, "version"]).maintenance, true);
});

t.test("applying a config leaves maintenance mode and starts containerd", async (t) => {
  const r = apply(config("sbx-one"));
  t.equal(r.code, 0, r.stderr);
  t.equal(hostname(), "sbx-one");
  await waitFor("containerd healthy", () => services(sb).find((s) => s.id === "containerd" && s.healthy === true));
});

t.test("a dry run reports the change and changes nothing", async (t) => {
  const out = JSON.parse(apply(config("sbx-dry"), "--dry-run", "-o", "json").stdout) as { changes: string[] };
  t.same(out.changes, ["machine.hostname"]);
  t.equal(hostname(), "sbx-one");
  t.match(storedConfig(), /hostname: sbx-one/);
});

t.test("a no-reboot change is visible live", async (t) => {
  const r = apply(config("sbx-two"), "--mode", "no-reboot");
  t.equal(r.code, 0, r.stderr);
  t.equal(hostname(), "sbx-two");
});

t.test("a change that needs a reboot is refused in no-reboot mode", async (t) => {
  const r = apply(config("sbx-two", "  kernel:\n    modules:\n      - name: dummy\n"), "--mode", "no-reboot");
  t.equal(r.code, 1);
  t.match(r.stderr, /need a reboot: machine\.kernel\.modules/);
  t.notMatch(storedConfig(), /dummy/, "nothing saved");
});

t.test("a staged change waits for the reboot, which keeps the config", async (t) => {
  const r = apply(config("sbx-staged"), "--mode", "staged");
  t.equal(r.code, 0, r.stderr);
  t.equal(hostname(), "sbx-two", "staged: not applied yet");
  const oldPid = sb.pid;
  t.equal(ctl("reboot").code, 0);
  await waitFor("the old PID 1 to go", () => !alive(oldPid), 20_000);
  sb = await waitFor("the machine to come back", () => {
    const m = kilnctlJson<Sandbox[]>(["cluster", "show", "--name", name])[0];
    return m && m.pid !== oldPid && alive(m.pid) && kilnctl(["-e", m.localEndpoint, "version"]).code === 0 ? m : undefined;
  }, 30_000, 250);
  t.equal(hostname(), "sbx-staged", "the staged config is in force after the reboot");
  t.equal(kilnctlJson<VersionOut>(["-e", sb.localEndpoint, "version"]).maintenance, false);
});

t.test("a try change is live, then reverts by itself unless confirmed", async (t) => {
  const before = hostname();
  const r = apply(config("sbx-try"), "--mode", "try", "--timeout", "2s");
  t.equal(r.code, 0, r.stderr);
  t.equal(hostname(), "sbx-try", "applied live");
  await waitFor("the try to revert", () => hostname() === before, 15_000, 200);
  t.match(storedConfig(), new RegExp(`hostname: ${before}`), "the stored config is the previous one again");
});
