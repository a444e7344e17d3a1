// A control-plane sandbox hands an admin a short-lived kubeconfig through
// apid: `kilnctl kubeconfig PATH` merges it into a file that already holds
// another context, and kubectl reads the result. A reader may not ask; a
// worker, which holds no Kubernetes CA key, says to ask a control plane.
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { parse } from "yaml";
import { parseSecrets } from "../../src/pki/secrets-bundle.js";
import { kubernetesDir } from "../fixtures/kubernetes/binaries.js";
import { createSandbox, destroySandbox, kilnctl, type Sandbox, waitFor } from "./sandbox-helpers.js";
import { scratchDir } from "../fixtures/scratch.js";

const dir = scratchDir("kiln-kubeconfig-");
let cp: Sandbox;
let wk: Sandbox;

/** A config of the generated cluster with its own hostname. */
const config = (file: string, hostname: string) => readFileSync(join(dir, file), "utf8").replace(/^machine:\n/m, `machine:\n  hostname: ${hostname}\n`);
const ctl = (sb: Sandbox, ...args: string[]) => kilnctl(["--kilnconfig", join(dir, "kilnconfig"), "-e", sb.endpoint, ...args]);

/** A kubeconfig with another cluster's context, as a user may already have. */
const existing = `# my clusters
apiVersion: v1
kind: Config
clusters:
  - name: prod
    cluster:
      server: https://prod.example.com:6443
users:
  - name: prod-admin
    user:
      token: secret
contexts:
  - name: prod
    context:
      cluster: prod
      user: prod-admin
current-context: prod
`;

t.before(async () => {
  const g = kilnctl(["gen", "config", "--name", "kc", "--endpoint", "127.0.0.1", "--out", dir]);
  if (g.code !== 0) throw new Error(g.stderr);
  cp = createSandbox("t-kc-cp", config("controlplane.yaml", "kc-cp"));
  wk = createSandbox("t-kc-wk", config("standalone.yaml", "kc-wk"));
  await waitFor("the control plane's apid", () => ctl(cp, "version").code === 0, 30_000, 250);
  await waitFor("the worker's apid", () => ctl(wk, "version").code === 0, 30_000, 250);
});
t.teardown(() => {
  destroySandbox("t-kc-cp");
  destroySandbox("t-kc-wk");
});

t.test("an admin's kubeconfig is merged into PATH: the other context stays, the new one is current, signed by the cluster CA", async (t) => {
  const file = join(dir, "kube", "config");
  mkdirSync(join(dir, "kube"), { recursive: true });
  writeFileSync(file, existing, { mode: 0o644 });
  const r = ctl(cp, "kubeconfig", file, "--ttl", "2h", "-o", "json");
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  t.match(out, { node: "kc-cp", file, context: "admin@kc", server: "https://127.0.0.1:6443", merged: true });
  const left = Date.parse(out.expires) - Date.now();
  t.ok(left > 1.9 * 3_600_000 && left <= 2 * 3_600_000, `expires in 2h (${left}ms)`);
  t.equal(statSync(file).mode & 0o777, 0o600);
  const text = readFileSync(file, "utf8");
  t.match(text, /^# my clusters\n/, "comments kept");
  const kc = parse(text);
  t.same(kc.contexts.map((c: { name: string }) => c.name), ["prod", "admin@kc"]);
  t.equal(kc["current-context"], "admin@kc");
  const secrets = parseSecrets(readFileSync(join(dir, "secrets.yaml"), "utf8"));
  if (!("value" in secrets)) throw new Error(secrets.errors.join("; "));
  const ca = new X509Certificate(secrets.value.cluster.ca.crt);
  const crt = new X509Certificate(Buffer.from(kc.users[1].user["client-certificate-data"], "base64"));
  t.ok(crt.verify(ca.publicKey), "signed by the Kubernetes CA");
  t.match(crt.subject, /O=system:masters/);

  const kubectlDir = kubernetesDir({ fail: (m) => t.fail(m), skip: (m) => t.comment(`kubectl check skipped: ${m}`) });
  if (!kubectlDir) return;
  const view = spawnSync(join(kubectlDir, "kubectl"), ["--kubeconfig", file, "config", "view", "-o", "json"], { encoding: "utf8" });
  t.equal(view.status, 0, view.stderr);
  const seen = JSON.parse(view.stdout);
  t.equal(seen["current-context"], "admin@kc");
  // kubectl lists entries by name.
  t.match(seen.clusters, [{ name: "kc", cluster: { server: "https://127.0.0.1:6443", "certificate-authority-data": "DATA+OMITTED" } }, { name: "prod" }]);
  t.match(seen.users, [{ name: "admin@kc", user: { "client-certificate-data": "REDACTED", "client-key-data": "REDACTED" } }, { name: "prod-admin" }]);
  t.match(seen.contexts, [{ name: "admin@kc", context: { cluster: "kc", user: "admin@kc" } }, { name: "prod" }]);
});

t.test("a reader may not get a kubeconfig; a worker says to ask a control plane", async (t) => {
  const reader = join(dir, "reader.kilnconfig");
  t.equal(kilnctl(["gen", "kilnconfig", "--secrets", join(dir, "secrets.yaml"), "--role", "os:reader", "--out", reader]).code, 0);
  const r = kilnctl(["--kilnconfig", reader, "-e", cp.endpoint, "kubeconfig", join(dir, "reader-kube")]);
  t.not(r.code, 0, "refused");
  t.match(r.stderr, /role os:reader may not call/);
  const w = ctl(wk, "kubeconfig", "-");
  t.not(w.code, 0);
  t.match(w.stderr, /this machine holds no cluster CA key \(cluster\.ca\.key\): ask a control-plane node \(kilnctl -n CP kubeconfig\)/);
});
