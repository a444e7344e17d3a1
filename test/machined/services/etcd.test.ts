// etcd on control planes: when it is skipped (and says why), its flags, its
// certificates, the bootstrap's refusals, and a real etcd (Debian's
// etcd-server) started with those flags and certificates answering
// `etcdctl endpoint health` over client-certificate TLS.
import { spawn, spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { checkBootstrap, markBootstrap } from "../../../src/machined/bootstrap.js";
import { etcdArgs, etcdFiles, writeEtcdCerts } from "../../../src/machined/services/etcd-config.js";
import { etcdSkip } from "../../../src/machined/services/etcd.js";
import { etcdPaths } from "../../../src/machinery/paths.js";
import { createCA, issueComponentCert } from "../../../src/pki/certs.js";
import { encodeBase64Pem } from "../../../src/pki/pem.js";
import { configOf, worker } from "../../config/fixtures.js";
import { tempDir, testContext } from "../helpers.js";

/** etcd's paths under `dir`, on ports of its own. */
function pathsIn(dir: string, base = 23_790) {
  return { ...etcdPaths, dataDir: join(dir, "etcd"), bootstrapMark: join(dir, "kiln", "etcd-bootstrap"), pki: join(dir, "pki"), clientPort: base, peerPort: base + 1, metricsPort: base + 2 };
}

async function controlPlane(withKey = true) {
  const ca = await createCA("test etcd");
  const yaml = worker({ hostname: "cp-1" }).replace("type: worker", "type: controlplane");
  const config = configOf(yaml);
  config.cluster = { ...config.cluster, etcd: { ca: { crt: encodeBase64Pem(ca.crt), ...(withKey ? { key: encodeBase64Pem(ca.key) } : {}) } } };
  return { ca, config };
}

/** A context whose image has an etcd binary (a placeholder file). */
function withEtcd(dir: string) {
  const ctx = testContext(dir);
  mkdirSync(join(dir, "bin"), { recursive: true });
  writeFileSync(join(dir, "bin", "etcd"), "", { mode: 0o755 });
  return ctx;
}

t.test("skipped on a worker, without the binary or the CA, and until bootstrapped, each saying why", async (t) => {
  const dir = tempDir(t);
  const p = pathsIn(dir);
  const ctx = withEtcd(dir);
  ctx.config = configOf(worker({}));
  t.equal(etcdSkip(ctx, p), "this machine is a worker: only control planes run etcd");
  const { config } = await controlPlane(false);
  ctx.config = config;
  t.match(etcdSkip(ctx, p), /^cluster\.etcd\.ca \(with its key\) is not in the config/);
  ctx.config = (await controlPlane()).config;
  t.equal(etcdSkip(ctx, p), "not bootstrapped: run `kilnctl bootstrap` on one control-plane node (once for the cluster)");
  markBootstrap(p);
  t.equal(etcdSkip(ctx, p), undefined, "runs once bootstrapped");
  const bare = testContext(tempDir(t));
  bare.config = ctx.config;
  t.match(etcdSkip(bare, p), /^no etcd binary in the image/);
});

t.test("bootstrap: refused without a config, on a worker, without the CA's key, and a second time", async (t) => {
  const dir = tempDir(t);
  const p = pathsIn(dir);
  const bin = join(withEtcd(dir).paths.bin("etcd"));
  t.throws(() => checkBootstrap(undefined, bin, p), { kind: "refused", message: /^this machine has no config yet/ });
  t.throws(() => checkBootstrap(configOf(worker({})), bin, p), { kind: "refused", message: /^this machine is a worker: bootstrap one control-plane node/ });
  const keyless = (await controlPlane(false)).config;
  const { config } = await controlPlane();
  t.throws(() => checkBootstrap(keyless, bin, p), { kind: "refused", message: /^cluster\.etcd\.ca with its key/ });
  t.throws(() => checkBootstrap(config, join(dir, "nothing"), p), { kind: "refused", message: /^this image has no etcd/ });
  t.doesNotThrow(() => checkBootstrap(config, bin, p));
  markBootstrap(p);
  t.throws(() => checkBootstrap(config, bin, p), { kind: "refused", message: /^this node was bootstrapped already \(.+\): a cluster is bootstrapped once/ });
  t.throws(() => markBootstrap(p), { code: "EEXIST" }, "the mark is never written twice");
  mkdirSync(join(p.dataDir, "member"), { recursive: true });
  t.throws(() => checkBootstrap(config, bin, p), { kind: "refused", message: /already holds a member of a cluster/ });
});

t.test("flags: a founding member names the new cluster; a member already on disk does not", async (t) => {
  const p = pathsIn("/x");
  const founding = etcdArgs({ name: "cp-1", address: "10.5.0.2" }, true, p);
  t.ok(founding.includes("--initial-cluster=cp-1=https://10.5.0.2:23791"));
  t.ok(founding.includes("--initial-cluster-state=new"));
  t.ok(founding.includes("--listen-client-urls=https://127.0.0.1:23790,https://10.5.0.2:23790"));
  t.ok(founding.includes("--listen-metrics-urls=http://127.0.0.1:23792"));
  t.ok(founding.includes("--client-cert-auth=true") && founding.includes("--peer-client-cert-auth=true"));
  const again = etcdArgs({ name: "cp-1", address: "fd00::2" }, false, p);
  t.notOk(again.some((a) => a.startsWith("--initial-cluster")), "no initial-cluster flags");
  t.ok(again.includes("--advertise-client-urls=https://[fd00::2]:23790"));
});

t.test("certificates: server and peer from the etcd CA, for both usages and the node's names; keys 0600", async (t) => {
  const dir = tempDir(t);
  const { ca } = await controlPlane();
  await writeEtcdCerts(ca, { name: "cp-1", address: "10.5.0.2" }, dir);
  const f = etcdFiles(dir);
  const caCert = new X509Certificate(ca.crt);
  for (const [crt, key] of [[f.serverCert, f.serverKey], [f.peerCert, f.peerKey]] as const) {
    const cert = new X509Certificate(readFileSync(crt));
    t.ok(cert.checkIssued(caCert) && cert.verify(caCert.publicKey), `${crt} is signed by the etcd CA`);
    t.same(cert.keyUsage?.sort(), ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"], "serverAuth and clientAuth");
    t.match(cert.subjectAltName, /DNS:cp-1.*IP Address:10\.5\.0\.2/);
    t.equal(statSync(key).mode & 0o777, 0o600);
  }
});

const etcdBin = "/usr/bin/etcd";
const etcdctl = "/usr/bin/etcdctl";
const missing = !existsSync(etcdBin) || !existsSync(etcdctl);
const skip = missing && process.env.CI !== "true" && "needs Debian's etcd-server and etcd-client";

t.test("a real etcd started with these flags and certificates answers etcdctl over client-certificate TLS", { skip, timeout: 120_000 }, async (t) => {
  if (missing) return void t.fail(`${etcdBin} and ${etcdctl} are needed (apt-get install etcd-server etcd-client; hack/setup.sh installs them)`);
  const dir = tempDir(t);
  const p = pathsIn(dir, 20_000 + Math.floor(Math.random() * 20_000));
  const { ca } = await controlPlane();
  const member = { name: "cp-1", address: "127.0.0.1" };
  await writeEtcdCerts(ca, member, p.pki);
  const child = spawn(etcdBin, etcdArgs(member, true, p), { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000);
  });
  t.teardown(() => void child.kill("SIGKILL"));
  let health = "";
  for (const end = Date.now() + 60_000; Date.now() < end && !health.includes('"health":"true"'); await new Promise((r) => setTimeout(r, 250))) {
    health = await fetch(`http://127.0.0.1:${p.metricsPort}/health`).then((r) => r.text(), () => "");
  }
  t.match(health, /"health":"true"/, `etcd's /health on loopback (stderr: ${stderr.slice(-300)})`);
  const client = await issueComponentCert(ca, { commonName: "kube-apiserver-etcd-client", usages: ["client"] });
  writeFileSync(join(dir, "client.crt"), client.crt);
  writeFileSync(join(dir, "client.key"), client.key, { mode: 0o600 });
  const tls = [`--cacert=${etcdFiles(p.pki).ca}`, `--cert=${join(dir, "client.crt")}`, `--key=${join(dir, "client.key")}`, `--endpoints=https://127.0.0.1:${p.clientPort}`];
  const ok = spawnSync(etcdctl, [...tls, "endpoint", "health"], { encoding: "utf8", env: { ETCDCTL_API: "3" }, timeout: 30_000 });
  t.match(ok.stdout + ok.stderr, /is healthy/, "etcdctl with a client certificate from the etcd CA");
  const other = await createCA("another");
  const stranger = await issueComponentCert(other, { commonName: "stranger", usages: ["client"] });
  writeFileSync(join(dir, "stranger.crt"), stranger.crt);
  writeFileSync(join(dir, "stranger.key"), stranger.key, { mode: 0o600 });
  const bad = spawnSync(etcdctl, [...tls.slice(0, 1), `--cert=${join(dir, "stranger.crt")}`, `--key=${join(dir, "stranger.key")}`, tls[3]!, "--dial-timeout=3s", "--command-timeout=5s", "endpoint", "health"], { encoding: "utf8", env: { ETCDCTL_API: "3" }, timeout: 30_000 });
  t.not(bad.status, 0, "a client certificate from another CA is refused");
  t.ok(existsSync(join(p.dataDir, "member")), "the data directory holds the member: the node counts as bootstrapped from now on");
});
