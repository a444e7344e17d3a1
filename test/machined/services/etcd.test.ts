// etcd on control planes: when it is skipped (and says why), its flags, its
// certificates, the bootstrap's refusals, and a real etcd (Debian's
// etcd-server) started with those flags and certificates answering
// `etcdctl endpoint health` over client-certificate TLS.
import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { checkBootstrap, markBootstrap } from "../../../src/machined/bootstrap.js";
import { etcdArgs, etcdFiles, writeEtcdCerts } from "../../../src/machined/services/etcd-config.js";
import { etcdSkip, etcdStart } from "../../../src/machined/services/etcd.js";
import { writeJoinMark } from "../../../src/machined/services/etcd-join.js";
import { createCA, issueComponentCert } from "../../../src/pki/certs.js";
import { configOf, worker } from "../../config/fixtures.js";
import { tempDir, testContext } from "../helpers.js";
import { controlPlane, etcdctl, etcdMissing, etcdMissingMessage, etcdSkip as skipWithoutEtcd, pathsIn, startEtcd } from "./etcd-fixtures.js";

/** A context whose image has an etcd binary (a placeholder file). */
function withEtcd(dir: string) {
  const ctx = testContext(dir);
  mkdirSync(join(dir, "bin"), { recursive: true });
  writeFileSync(join(dir, "bin", "etcd"), "", { mode: 0o755 });
  return ctx;
}

t.test("skipped on a worker, without the binary or the CA, each saying why; on a control plane it starts as founded, joined or its member", async (t) => {
  const dir = tempDir(t);
  const p = pathsIn(dir);
  const ctx = withEtcd(dir);
  ctx.config = configOf(worker({}));
  t.equal(etcdSkip(ctx), "this machine is a worker: only control planes run etcd");
  const { config } = await controlPlane(false);
  ctx.config = config;
  t.match(etcdSkip(ctx), /^cluster\.etcd\.ca \(with its key\) is not in the config/);
  ctx.config = (await controlPlane()).config;
  t.equal(etcdSkip(ctx), undefined, "a control plane runs it (it waits to be founded or to join)");
  const bare = testContext(tempDir(t));
  bare.config = ctx.config;
  t.match(etcdSkip(bare), /^no etcd binary in the image/);
  t.throws(() => etcdStart(p), { message: /neither bootstrapped on this node nor joined/ });
  writeJoinMark({ joinedAt: "x", memberId: "1", initialCluster: "cp-1=https://a:2380,cp-2=https://b:2380", clientURLs: [], promoted: false }, p);
  t.same(etcdStart(p), { t: "join", initialCluster: "cp-1=https://a:2380,cp-2=https://b:2380" });
  markBootstrap(p);
  t.same(etcdStart(p), { t: "found" }, "the bootstrap mark decides");
  mkdirSync(join(p.dataDir, "member"), { recursive: true });
  t.same(etcdStart(p), { t: "member" }, "a member on disk starts as itself");
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
  const founding = etcdArgs({ name: "cp-1", address: "10.5.0.2" }, { t: "found" }, p);
  t.ok(founding.includes("--initial-cluster=cp-1=https://10.5.0.2:23791"));
  t.ok(founding.includes("--initial-cluster-state=new"));
  t.ok(founding.includes("--listen-client-urls=https://127.0.0.1:23790,https://10.5.0.2:23790"));
  t.ok(founding.includes("--listen-metrics-urls=http://127.0.0.1:23792"));
  t.ok(founding.includes("--client-cert-auth=true") && founding.includes("--peer-client-cert-auth=true"));
  const again = etcdArgs({ name: "cp-1", address: "fd00::2" }, { t: "member" }, p);
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

t.test("a real etcd started with these flags and certificates answers etcdctl over client-certificate TLS", { skip: skipWithoutEtcd, timeout: 120_000 }, async (t) => {
  if (etcdMissing) return void t.fail(etcdMissingMessage);
  const dir = tempDir(t);
  const p = pathsIn(dir, 20_000 + Math.floor(Math.random() * 20_000));
  const { ca } = await controlPlane();
  const member = { name: "cp-1", address: "127.0.0.1" };
  await writeEtcdCerts(ca, member, p.pki);
  const { health, stderr } = await startEtcd(t, etcdArgs(member, { t: "found" }, p), p.metricsPort);
  t.match(health, /"health":"true"/, `etcd's /health on loopback (stderr: ${stderr().slice(-300)})`);
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
