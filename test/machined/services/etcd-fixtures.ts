// etcd for tests: paths and ports of a test's own, a control-plane config
// with an etcd CA, and Debian's etcd started for a test (killed at teardown,
// its stderr kept, ready once its loopback /health says so).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { etcdPaths } from "../../../src/machinery/paths.js";
import { createCA } from "../../../src/pki/certs.js";
import { encodeBase64Pem } from "../../../src/pki/pem.js";
import { configOf, worker } from "../../config/fixtures.js";

/** etcd's paths under `dir`, on ports of its own. */
export function pathsIn(dir: string, base = 23_790) {
  return { ...etcdPaths, dataDir: join(dir, "etcd"), bootstrapMark: join(dir, "kiln", "etcd-bootstrap"), joinMark: join(dir, "kiln", "etcd-join"), pki: join(dir, "pki"), clientPort: base, peerPort: base + 1, metricsPort: base + 2 };
}

export async function controlPlane(withKey = true) {
  const ca = await createCA("test etcd");
  const yaml = worker({ hostname: "cp-1" }).replace("type: worker", "type: controlplane");
  const config = configOf(yaml);
  config.cluster = { ...config.cluster, etcd: { ca: { crt: encodeBase64Pem(ca.crt), ...(withKey ? { key: encodeBase64Pem(ca.key) } : {}) } } };
  return { ca, config };
}


export const etcdBin = "/usr/bin/etcd";
export const etcdctl = "/usr/bin/etcdctl";
export const etcdMissing = !existsSync(etcdBin) || !existsSync(etcdctl);
/** On CI a missing etcd fails the test (see each test's first line); elsewhere it is skipped, saying why. */
export const etcdSkip = etcdMissing && process.env.CI !== "true" && "needs Debian's etcd-server and etcd-client";
export const etcdMissingMessage = `${etcdBin} and ${etcdctl} are needed (apt-get install etcd-server etcd-client; hack/setup.sh installs them)`;

/** Starts etcd with `args` and waits (up to 60 s) for /health on `metricsPort`; returns /health's last answer and etcd's stderr. */
export async function startEtcd(t: { teardown(fn: () => void): void }, args: string[], metricsPort: number): Promise<{ health: string; stderr: () => string }> {
  const child = spawn(etcdBin, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000);
  });
  t.teardown(() => void child.kill("SIGKILL"));
  let health = "";
  for (const end = Date.now() + 60_000; Date.now() < end && !health.includes('"health":"true"'); await new Promise((r) => setTimeout(r, 250))) {
    health = await fetch(`http://127.0.0.1:${metricsPort}/health`).then((r) => r.text(), () => "");
  }
  return { health, stderr: () => stderr };
}
