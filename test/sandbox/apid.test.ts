// The remote API end to end: gen config, a sandbox reached over its veth,
// mTLS with roles, maintenance mode with a pinned fingerprint, apid restarts,
// and a new address's certificate served without one.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import t from "tap";
import YAML from "yaml";
import { consoleTail, createSandbox, destroySandbox, inSandbox, kilnctl, kilnctlBin, processesIn, type Sandbox, waitFor } from "./sandbox-helpers.js";
import { scratchDir } from "../fixtures/scratch.js";

const dir = scratchDir("kiln-gen-");
const names = { configured: "t-apid", maintenance: "t-maint" };
let sb: Sandbox;

t.teardown(() => {
  destroySandbox(names.configured);
  destroySandbox(names.maintenance);
});

/** kilnctl against the sandbox over TCP with a kilnconfig. */
const remote = (cfg: string, ...args: string[]) => kilnctl(["--kilnconfig", cfg, "-e", sb.endpoint, ...args]);

t.test("gen config writes secrets, machine configs and a kilnconfig, keys 0600", async (t) => {
  const r = kilnctl(["gen", "config", "--name", "apid-test", "--endpoint", "10.0.0.1", "--out", dir]);
  t.equal(r.code, 0, r.stderr);
  for (const f of ["secrets.yaml", "controlplane.yaml", "worker.yaml", "standalone.yaml", "kilnconfig"]) {
    const mode = (await import("node:fs")).statSync(join(dir, f)).mode & 0o777;
    t.equal(mode.toString(8), "600", `${f} is 0600`);
  }
  t.equal(kilnctl(["validate", "-f", join(dir, "worker.yaml")]).code, 0);
  const again = kilnctl(["gen", "config", "--name", "apid-test", "--endpoint", "10.0.0.1", "--out", dir]);
  t.not(again.code, 0, "refuses to overwrite");
});

t.test("a configured sandbox answers over mTLS on its veth address", async (t) => {
  sb = createSandbox(names.configured, readFileSync(join(dir, "standalone.yaml"), "utf8"));
  t.match(sb.endpoint, /^\d+\.\d+\.\d+\.\d+:50000$/);
  const cfg = join(dir, "kilnconfig");
  const version = await waitFor("apid to answer", () => {
    const r = remote(cfg, "version", "-o", "json");
    return r.code === 0 ? r : undefined;
  }, 30_000, 250);
  t.match(JSON.parse(version.stdout), { maintenance: false });
  const svc = remote(cfg, "services", "-o", "json");
  t.equal(svc.code, 0, svc.stderr);
  t.ok((JSON.parse(svc.stdout) as { id: string }[]).some((s) => s.id === "apid"), "apid is a service");
});

t.test("a reader may read but not reboot, and never sees a secret", async (t) => {
  const reader = join(dir, "reader.kilnconfig");
  const g = kilnctl(["gen", "kilnconfig", "--secrets", join(dir, "secrets.yaml"), "--role", "os:reader", "--out", reader]);
  t.equal(g.code, 0, g.stderr);
  t.equal(remote(reader, "services").code, 0);
  const denied = remote(reader, "reboot");
  t.not(denied.code, 0);
  t.match(denied.stderr, /os:reader may not call .*Reboot/);
  const config = remote(reader, "get", "config", "-o", "yaml");
  t.equal(config.code, 0, config.stderr);
  const secrets = readFileSync(join(dir, "secrets.yaml"), "utf8");
  for (const token of secrets.match(/[a-z0-9]{6}\.[a-z0-9]{16}/g) ?? []) t.notMatch(config.stdout, token, "no token");
  t.notMatch(config.stdout, /PRIVATE KEY|key: [A-Za-z0-9+/]{40}/, "no private key");
});

t.test("apid killed with kill -9 is restarted and answers again", async (t) => {
  const apid = processesIn(sb).find((p) => p.cmdline.includes("apid.cjs"));
  t.ok(apid, "apid runs in the sandbox");
  process.kill(apid!.pid, "SIGKILL");
  const cfg = join(dir, "kilnconfig");
  await waitFor("apid to answer again", () => remote(cfg, "version").code === 0 && processesIn(sb).some((p) => p.cmdline.includes("apid.cjs") && p.pid !== apid!.pid), 15_000, 250);
  t.ok(processesIn(sb).some((p) => p.pid === sb.pid), "machined (PID 1) is unaffected");
});

/** The SANs of the certificate apid serves now, seen with the kilnconfig's client certificate. */
function servedSans(cfg: string): Promise<string> {
  const file = YAML.parse(readFileSync(cfg, "utf8")) as { context: string; contexts: Record<string, { ca: string; crt: string; key: string }> };
  const ctx = file.contexts[file.context]!;
  const [ca, cert, key] = [ctx.ca, ctx.crt, ctx.key].map((b) => Buffer.from(b, "base64"));
  const [host, port] = sb.endpoint.split(":") as [string, string];
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host, port: Number(port), ca, cert, key, servername: "kiln-apid", ALPNProtocols: ["h2"], checkServerIdentity: () => undefined });
    s.once("secureConnect", () => {
      resolve(s.getPeerCertificate().subjectaltname ?? "");
      s.destroy();
    });
    s.once("error", reject);
  });
}

t.test("an address added in the machine gets apid a new certificate without a restart; a follow open before goes on", async (t) => {
  const cfg = join(dir, "kilnconfig");
  const before = processesIn(sb).find((p) => p.cmdline.includes("apid.cjs"))!;
  t.notMatch(await servedSans(cfg), /10\.99\.0\.5/);
  const follow = spawn(process.execPath, [kilnctlBin, "--kilnconfig", cfg, "-e", sb.endpoint, "events", "-f"], { stdio: "ignore" });
  t.teardown(() => void follow.kill());
  await new Promise((r) => setTimeout(r, 2000));
  const added = inSandbox(sb, ["-n"], ["ip", "addr", "add", "10.99.0.5/32", "dev", "lo"]);
  t.equal(added.code, 0, added.stderr);
  // machined looks for addresses no event announces every 10 s.
  let sans = "";
  for (const end = Date.now() + 40_000; Date.now() < end && !/IP Address:10\.99\.0\.5/.test(sans); await new Promise((r) => setTimeout(r, 500))) sans = await servedSans(cfg);
  t.match(sans, /IP Address:10\.99\.0\.5/, "apid serves a certificate with the new address");
  t.equal(processesIn(sb).find((p) => p.cmdline.includes("apid.cjs"))?.pid, before.pid, "the same apid process");
  t.equal(follow.exitCode, null, "the follow opened before is still running");
  const logs = remote(cfg, "logs", "apid");
  t.match(logs.stdout, /serving a new server certificate from \/run\/apid\/tls/);
});

t.test("maintenance mode: only apply and version, fingerprint pinned, then mTLS only", async (t) => {
  const m = createSandbox(names.maintenance);
  const fp = await waitFor("the fingerprint on the console", () => /fingerprint ([0-9a-fA-F:]{64,})/.exec(readFileSync(m.consoleLog, "utf8"))?.[1], 20_000, 200);
  const insecure = (...args: string[]) => kilnctl(["-e", m.endpoint, "--insecure", ...args]);
  await waitFor("apid in maintenance mode", () => insecure("version").code === 0, 20_000, 250);
  const svc = insecure("services");
  t.not(svc.code, 0);
  t.match(svc.stderr, /maintenance mode/);
  const wrong = insecure("--cert-fingerprint", "00".repeat(32), "version");
  t.not(wrong.code, 0, "a wrong fingerprint is refused by the client");
  t.match(wrong.stderr, /fingerprint/);
  const applied = insecure("--cert-fingerprint", fp, "apply-config", "-f", join(dir, "standalone.yaml"));
  t.equal(applied.code, 0, applied.stderr + consoleTail(m));
  await waitFor("mTLS to answer", () => kilnctl(["--kilnconfig", join(dir, "kilnconfig"), "-e", m.endpoint, "version"]).code === 0, 30_000, 250);
  t.not(insecure("version").code, 0, "no longer answers without a client certificate");
});
