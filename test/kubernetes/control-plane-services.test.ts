// The control plane for real: Debian's etcd, then the built kube-apiserver,
// kube-controller-manager and kube-scheduler, each started with exactly the
// argv and certificates kiln's services give them (in a directory and on
// ports of their own). The API server gets ready; machined's admin
// kubeconfig works; the controller manager signs service-account tokens the
// API server accepts and holds its leader lease; the scheduler is healthy.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { clusterNetwork } from "../../src/config/cluster-network.js";
import { httpsHealth } from "../../src/machined/health/checks.js";
import { apiServerArgs, controllerManagerArgs, schedulerArgs } from "../../src/machined/services/control-plane-args.js";
import { apiServerSans, type ControlPlaneSecrets, controlPlaneFiles, writeApiServerPki, writeControllerManagerPki, writeSchedulerPki } from "../../src/machined/services/control-plane-pki.js";
import { etcdArgs, writeEtcdCerts } from "../../src/machined/services/etcd-config.js";
import { etcdPaths } from "../../src/machinery/paths.js";
import { generateSecrets } from "../../src/pki/secrets-bundle.js";
import { kubernetesDir } from "../fixtures/kubernetes/binaries.js";
import { tempDir, testContext } from "../machined/helpers.js";

const etcdBin = "/usr/bin/etcd";
const bin = kubernetesDir();
const missing = [
  process.getuid?.() !== 0 && "root",
  !existsSync(etcdBin) && `${etcdBin} (apt-get install etcd-server; hack/setup.sh installs it)`,
  !bin && "the Kubernetes programs (bash hack/kubernetes.sh)",
].filter((x) => x !== false);
const skip = missing.length > 0 && process.env.CI !== "true" && `needs ${missing.join(", ")}`;

/** A non-loopback IPv4 address of this host to advertise (the API server's endpoint may not be loopback), else 127.0.0.1. */
function hostAddress(): string {
  const all = Object.values(networkInterfaces()).flatMap((l) => l ?? []);
  return all.find((a) => a.family === "IPv4" && !a.internal)?.address ?? "127.0.0.1";
}

/** A started program whose stderr's tail is kept for failure messages; killed at teardown. */
function start(t: Test, argv: string[]): { child: ChildProcess; tail: () => string } {
  const [cmd, ...args] = argv;
  const child = spawn(cmd!, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-3000);
  });
  t.teardown(() => void child.kill("SIGKILL"));
  return { child, tail: () => stderr.slice(-1500) };
}

/** Passes when `ok`; a failure shows the tail of `who`'s stderr. */
function check(t: Test, ok: boolean, message: string, who: { tail: () => string }): void {
  t.ok(ok, message);
  if (!ok) t.comment(`stderr: ${who.tail()}`);
}

/** Polls `probe` until it resolves true, or `ms` pass; the time it took, or undefined. */
async function until(ms: number, probe: () => Promise<boolean>): Promise<number | undefined> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await probe().catch(() => false)) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 500));
  }
  return undefined;
}

t.test("etcd, kube-apiserver, kube-controller-manager and kube-scheduler run with kiln's flags and certificates", { skip, timeout: 600_000 }, async (t) => {
  if (!bin || missing.length > 0) return void t.fail(`needs ${missing.join(", ")}`);
  const dir = tempDir(t, "kiln-cp-");
  const base = 20_000 + Math.floor(Math.random() * 20_000);
  const etcdP = { ...etcdPaths, dataDir: join(dir, "etcd"), bootstrapMark: join(dir, "mark"), pki: join(dir, "etcd-pki"), clientPort: base, peerPort: base + 1, metricsPort: base + 2 };
  const p = { pki: join(dir, "pki"), apiServerPort: base + 3, controllerManagerPort: base + 4, schedulerPort: base + 5, etcdClientPort: base };
  const address = hostAddress();
  const bundle = await generateSecrets("test");
  const secrets: ControlPlaneSecrets = { ca: bundle.cluster.ca, etcdCa: bundle.etcd!.ca, frontProxyCa: bundle.frontProxy!.ca, serviceAccountKey: bundle.serviceAccount!.key };
  const network = clusterNetwork(undefined);
  const f = controlPlaneFiles(p.pki);
  const ctx = testContext(dir);
  const kubectl = (...args: string[]) => spawnSync(join(bin, "kubectl"), [`--kubeconfig=${f.adminKubeconfig}`, ...args], { encoding: "utf8", timeout: 30_000 });

  const member = { name: "cp-1", address: "127.0.0.1" };
  await writeEtcdCerts(secrets.etcdCa, member, etcdP.pki);
  const etcd = start(t, [etcdBin, ...etcdArgs(member, { t: "found" }, etcdP)]);
  const etcdUp = await until(60_000, async () => (await fetch(`http://127.0.0.1:${etcdP.metricsPort}/health`)).ok);
  check(t, etcdUp !== undefined, "etcd healthy", etcd);

  await writeApiServerPki(secrets, apiServerSans({ apiServiceIp: network.apiServiceIp, hostname: "cp-1", addresses: [address] }), p);
  const started = Date.now();
  const apiServer = start(t, [join(bin, "kube-apiserver"), ...apiServerArgs(address, network, p)]);
  const healthy = (url: string, ca?: string) => async () => {
    await httpsHealth(url, ca)(ctx, AbortSignal.timeout(5000));
    return true;
  };
  const ready = await until(240_000, healthy(`https://127.0.0.1:${p.apiServerPort}/readyz`, f.ca));
  check(t, ready !== undefined, "the API server's /readyz answers 200, verified with the cluster CA", apiServer);
  if (ready === undefined) return;
  t.comment(`kube-apiserver: start to ready in ${Date.now() - started} ms`);

  const raw = kubectl("get", "--raw", "/readyz");
  t.equal(raw.stdout.trim(), "ok", `machined's admin kubeconfig reads /readyz (${raw.stderr})`);
  const who = kubectl("auth", "can-i", "*", "*");
  t.equal(who.stdout.trim(), "yes", "machined's admin kubeconfig is in system:masters");

  await writeControllerManagerPki(secrets, p);
  await writeSchedulerPki(secrets, p);
  const cm = start(t, [join(bin, "kube-controller-manager"), ...controllerManagerArgs(network, p)]);
  const scheduler = start(t, [join(bin, "kube-scheduler"), ...schedulerArgs(p)]);
  // Their serving certificates are self-signed: probed unverified, as machined's health checks do.
  check(t, (await until(120_000, healthy(`https://127.0.0.1:${p.controllerManagerPort}/healthz`))) !== undefined, "the controller manager's /healthz", cm);
  check(t, (await until(120_000, healthy(`https://127.0.0.1:${p.schedulerPort}/healthz`))) !== undefined, "the scheduler's /healthz", scheduler);

  const lease = (name: string) => kubectl("-n", "kube-system", "get", "lease", name, "-o", "jsonpath={.spec.holderIdentity}").stdout.trim();
  check(t, (await until(120_000, async () => lease("kube-controller-manager") !== "")) !== undefined, "the controller manager holds its leader lease", cm);
  check(t, (await until(60_000, async () => lease("kube-scheduler") !== "")) !== undefined, "the scheduler holds its leader lease", scheduler);

  const tokenSecret = () => kubectl("-n", "default", "get", "secrets", "-o", "jsonpath={range .items[?(@.type==\"kubernetes.io/service-account-token\")]}{.metadata.name}{\"\\n\"}{end}").stdout.trim();
  check(t, (await until(120_000, async () => tokenSecret().startsWith("default-token-"))) !== undefined, "the tokens controller made the default service account's secret", cm);
  const name = tokenSecret().split("\n")[0]!;
  const token = Buffer.from(kubectl("-n", "default", "get", "secret", name, "-o", "jsonpath={.data.token}").stdout, "base64").toString();
  const asSa = spawnSync(join(bin, "kubectl"), [`--server=https://127.0.0.1:${p.apiServerPort}`, `--certificate-authority=${f.ca}`, `--token=${token}`, "auth", "can-i", "--list"], { encoding: "utf8", timeout: 30_000 });
  t.equal(asSa.status, 0, `the API server accepts the token the controller manager signed (${asSa.stderr})`);
  const whoami = spawnSync(join(bin, "kubectl"), [`--server=https://127.0.0.1:${p.apiServerPort}`, `--certificate-authority=${f.ca}`, `--token=${token}`, "get", "pods"], { encoding: "utf8", timeout: 30_000 });
  t.match(whoami.stderr, /system:serviceaccount:default:default/, "as system:serviceaccount:default:default (which may not list pods)");
});
