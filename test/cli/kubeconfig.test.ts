// `kilnctl kubeconfig`: the merge into an existing kubeconfig (other entries,
// unknown fields and comments kept; this cluster's entries replaced; another
// cluster's of the same name refused without --force), --merge=false, `-`,
// and where the file is when no PATH is given.
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import t from "tap";
import { parse } from "yaml";
import { locateKubeconfig } from "../../src/cli/kubeconfig-file.js";
import { mergeKubeconfig } from "../../src/cli/kubeconfig-merge.js";
import { adminKubeconfig } from "../../src/machinery/kubeconfig.js";
import { createFakeDeps } from "./fixtures/fake-deps.js";
import { fakeMachineCli } from "./fixtures/fake-machine-cli.js";

const parts = { cluster: "demo", server: "https://10.5.0.2:6443", caPem: "CA\n", crtPem: "CRT\n", keyPem: "KEY\n" };
const incoming = adminKubeconfig(parts);

const existing = `# my clusters
apiVersion: v1
kind: Config
clusters:
  # production, do not touch
  - name: prod
    cluster:
      server: https://prod.example.com:6443
      certificate-authority-data: UFJPRA==
users:
  - name: prod-admin
    user:
      token: secret
contexts:
  - name: prod
    context:
      cluster: prod
      user: prod-admin
      namespace: web
current-context: prod
preferences: {}
extensions:
  - name: kept
    extension: { any: thing }
`;

/** The merged text, failing the test when the merge refused. */
function merged(text: string, force = false): string {
  const r = mergeKubeconfig(text, incoming, { force });
  if ("error" in r) throw new Error(r.error);
  return r.text;
}

t.test("merging adds the cluster, user and context, keeps every other entry, unknown field and comment, and makes the context current", async (t) => {
  const text = merged(existing);
  const kc = parse(text);
  t.same(kc.clusters.map((c: { name: string }) => c.name), ["prod", "demo"]);
  t.same(kc.users.map((c: { name: string }) => c.name), ["prod-admin", "admin@demo"]);
  t.same(kc.contexts.map((c: { name: string }) => c.name), ["prod", "admin@demo"]);
  t.same(kc.contexts[0].context, { cluster: "prod", user: "prod-admin", namespace: "web" });
  t.equal(kc["current-context"], "admin@demo");
  t.same(kc.extensions, [{ name: "kept", extension: { any: "thing" } }]);
  t.match(text, /^# my clusters\n/);
  t.match(text, /# production, do not touch\n/);
  t.equal(kc.clusters[1].cluster.server, parts.server);
  t.equal(Buffer.from(kc.users[1].user["client-certificate-data"], "base64").toString(), "CRT\n");
});

t.test("merging into nothing writes the kubeconfig as issued", async (t) => {
  t.same(parse(merged("")), incoming);
});

t.test("empty lists as kubectl writes them (null, []) take the entries in block style", async (t) => {
  const text = merged("apiVersion: v1\nclusters: null\ncontexts: []\nusers: []\ncurrent-context: \"\"\n");
  t.match(text, /^contexts:\n {2}- name: admin@demo\n/m);
  t.same(parse(text), { ...incoming });
});

t.test("this cluster's entries (same name, same server) are replaced in place, not doubled", async (t) => {
  const first = merged(existing);
  const again = mergeKubeconfig(first.replace("current-context: admin@demo", "current-context: prod"), adminKubeconfig({ ...parts, crtPem: "NEW\n" }), { force: false });
  if ("error" in again) throw new Error(again.error);
  const kc = parse(again.text);
  t.same(kc.clusters.map((c: { name: string }) => c.name), ["prod", "demo"]);
  t.equal(kc.users.length, 2);
  t.equal(Buffer.from(kc.users[1].user["client-certificate-data"], "base64").toString(), "NEW\n");
  t.equal(kc["current-context"], "admin@demo");
});

t.test("a same-named cluster with another server is refused naming the conflict and --force; with --force it is replaced", async (t) => {
  const other = merged(existing).replace(parts.server, "https://elsewhere:6443");
  const r = mergeKubeconfig(other, incoming, { force: false });
  t.match(r, { error: /cluster "demo" exists with server https:\/\/elsewhere:6443, not https:\/\/10\.5\.0\.2:6443.*--force replaces/ });
  const kc = parse(merged(other, true));
  t.equal(kc.clusters.length, 2);
  t.equal(kc.clusters[1].cluster.server, parts.server);
});

t.test("a same-named context of another cluster is a conflict too", async (t) => {
  const other = merged(existing).replace("cluster: demo", "cluster: prod");
  t.match(mergeKubeconfig(other, incoming, { force: false }), { error: /context "admin@demo" exists for cluster prod, not demo/ });
});

t.test("a file that is not a kubeconfig is refused, saying how to replace it", async (t) => {
  t.match(mergeKubeconfig("- a\n- b\n", incoming, { force: false }), { error: /expected a map at the top level.*--merge=false --force/ });
  t.match(mergeKubeconfig("a: [\n", incoming, { force: true }), { error: /not YAML/ });
  t.match(mergeKubeconfig("clusters: 3\n", incoming, { force: true }), { error: /clusters is not a list/ });
});

t.test("PATH, else the first entry of $KUBECONFIG, else ~/.kube/config; - is stdout", async (t) => {
  t.same(locateKubeconfig("-", { KUBECONFIG: "/a" }), { t: "stdout" });
  t.same(locateKubeconfig("/x/k", { KUBECONFIG: "/a" }), { t: "file", path: "/x/k" });
  t.same(locateKubeconfig(undefined, { KUBECONFIG: ":/first/k:/second/k", HOME: "/home/u" }), { t: "file", path: "/first/k" });
  t.same(locateKubeconfig(undefined, { KUBECONFIG: "", HOME: "/home/u" }), { t: "file", path: "/home/u/.kube/config" });
});

t.test("kilnctl kubeconfig merges into the first $KUBECONFIG file, 0600 in a new 0700 directory, and prints one line", async (t) => {
  const { run, dir, machine } = await fakeMachineCli(t, "kilnctl-kubeconfig-");
  const file = join(dir, "kube", "config");
  const deps = createFakeDeps({ env: { KUBECONFIG: `${file}:${join(dir, "other")}` } });
  const r = await run(["kubeconfig"], deps);
  t.equal(r.code, 0, r.err);
  t.equal(r.out, `merged context admin@demo (server https://10.5.0.2:6443, expires 2024-05-02T10:00:00.000Z) into ${file}; it is the current context\n`);
  t.equal((await stat(file)).mode & 0o777, 0o600);
  t.equal((await stat(join(dir, "kube"))).mode & 0o777, 0o700);
  t.equal(parse(await readFile(file, "utf8"))["current-context"], "admin@demo");
  t.same(machine.calls.filter((c) => c.startsWith("kubeconfig")), ["kubeconfig 0"]);
});

t.test("kilnctl kubeconfig PATH keeps the file's other contexts; a conflict exits 1 naming --force, which then replaces", async (t) => {
  const { run, dir } = await fakeMachineCli(t, "kilnctl-kubeconfig-");
  const file = join(dir, "config");
  await writeFile(file, existing.replace("name: prod\n    cluster:", "name: demo\n    cluster:"), { mode: 0o644 });
  const refused = await run(["kubeconfig", file]);
  t.equal(refused.code, 1);
  t.match(refused.err, /^kilnctl: merging into .*config: cluster "demo" exists with server https:\/\/prod\.example\.com:6443, not https:\/\/10\.5\.0\.2:6443: --force replaces them\n$/);
  const forced = await run(["kubeconfig", file, "--force", "-o", "json"]);
  t.equal(forced.code, 0, forced.err);
  t.same(JSON.parse(forced.out), { node: "node-a", file, context: "admin@demo", server: "https://10.5.0.2:6443", expires: "2024-05-02T10:00:00.000Z", merged: true });
  const kc = parse(await readFile(file, "utf8"));
  t.same(kc.contexts.map((c: { name: string }) => c.name), ["prod", "admin@demo"]);
  t.equal((await stat(file)).mode & 0o777, 0o600, "rewritten 0600");
});

t.test("--merge=false writes the file whole, refusing an existing file without --force", async (t) => {
  const { run, dir } = await fakeMachineCli(t, "kilnctl-kubeconfig-");
  const file = join(dir, "config");
  await writeFile(file, existing);
  const refused = await run(["kubeconfig", file, "--merge=false"]);
  t.equal(refused.code, 1);
  t.match(refused.err, /the file exists: --force replaces it whole/);
  t.equal(await readFile(file, "utf8"), existing, "untouched");
  const forced = await run(["kubeconfig", file, "--merge=false", "--force", "-o", "yaml"]);
  t.equal(forced.code, 0, forced.err);
  t.match(parse(forced.out), { merged: false });
  t.same(parse(await readFile(file, "utf8")).contexts.map((c: { name: string }) => c.name), ["admin@demo"]);
  const bad = await run(["kubeconfig", file, "--merge", "maybe"]);
  t.equal(bad.code, 2);
});

t.test("- prints the kubeconfig itself and writes nothing; --ttl passes through and is checked first", async (t) => {
  const { run, machine } = await fakeMachineCli(t, "kilnctl-kubeconfig-");
  const r = await run(["kubeconfig", "-", "--ttl", "8h"]);
  t.equal(r.code, 0, r.err);
  t.same(parse(r.out)["current-context"], "admin@demo");
  t.same(machine.calls.filter((c) => c.startsWith("kubeconfig")), [`kubeconfig ${8 * 3_600_000}`]);
  const long = await run(["kubeconfig", "-", "--ttl", "8761h"]);
  t.equal(long.code, 2);
  t.match(long.err, /--ttl: a client certificate lives at most 8760h/);
  const json = await run(["kubeconfig", "-", "-o", "json"]);
  t.equal(json.code, 2);
});

t.test("a worker's refusal is the command's failure, exit 1", async (t) => {
  const { run, machine } = await fakeMachineCli(t, "kilnctl-kubeconfig-");
  const { refused } = await import("../../src/machined/errors.js");
  machine.kubeconfig = async () => {
    throw refused("this machine holds no cluster CA key (cluster.ca.key): ask a control-plane node (kilnctl -n CP kubeconfig)");
  };
  const r = await run(["kubeconfig", "-"]);
  t.equal(r.code, 1);
  t.match(r.err, /^kilnctl: getting a kubeconfig: this machine holds no cluster CA key/);
});
