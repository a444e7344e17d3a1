// machine.registries end to end: a real registry (Debian's docker-registry)
// on 127.0.0.1 with TLS from its own CA and client certificates required,
// the pause image pushed into it, and pulled through a real containerd with
// the hosts directory machined writes: with the right CA and client
// certificate, through a mirror, and refused with a wrong CA.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { join } from "node:path";
import t from "tap";
import type { RegistriesConfig } from "../../../src/config/schema.js";
import { ociImageArchive } from "../../../src/image/oci-image.js";
import { writeRegistryHosts } from "../../../src/machined/services/containerd.js";
import { containerdConfig } from "../../../src/machined/services/containerd-config.js";
import { registryHostsFiles } from "../../../src/machined/services/registry-hosts.js";
import { containerdPaths } from "../../../src/machinery/paths.js";
import { type CertAndKey, createCA, issueClientCert, issueServerCert } from "../../../src/pki/certs.js";
import { encodeBase64Pem } from "../../../src/pki/pem.js";
import { cannotRun, ctr, startContainerd, stop } from "../containerd.js";
import { tempDir, type Teardown } from "../helpers.js";

const registryBin = "/usr/bin/docker-registry";
const catatonit = "/usr/bin/catatonit";
// Under CI a missing program fails the test rather than skipping it.
const missing = [registryBin, catatonit].find((f) => !existsSync(f));
const skip = cannotRun() || (missing !== undefined && process.env.CI !== "true" && `needs ${missing} (apt-get install docker-registry catatonit; hack/setup.sh)`);
const local = "kiln.local/pause:test";

/** A TCP port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** Resolves once something accepts connections on 127.0.0.1:`port` (10 s at most). */
async function listening(port: number, proc: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`docker-registry exited with ${proc.exitCode}`);
    const ok = await new Promise<boolean>((r) => connect(port, "127.0.0.1").once("connect", function (this: { destroy(): void }) { this.destroy(); r(true); }).once("error", () => r(false)));
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not listen on ${port} within 10 s`);
}

/** docker-registry on 127.0.0.1 serving TLS from `ca`, requiring a client certificate `ca` signed. */
async function startRegistry(t: Teardown, ca: CertAndKey): Promise<string> {
  const dir = tempDir(t, "kiln-registry-");
  const port = await freePort();
  const server = await issueServerCert(ca, { commonName: "127.0.0.1", sans: ["127.0.0.1"] });
  writeFileSync(join(dir, "server.crt"), server.crt);
  writeFileSync(join(dir, "server.key"), server.key);
  writeFileSync(join(dir, "ca.crt"), ca.crt);
  const config = `version: 0.1
log: { level: warn }
storage: { filesystem: { rootdirectory: ${dir}/data } }
http:
  addr: 127.0.0.1:${port}
  tls: { certificate: ${dir}/server.crt, key: ${dir}/server.key, clientcas: [${dir}/ca.crt] }
`;
  writeFileSync(join(dir, "config.yml"), config);
  const proc = spawn(registryBin, ["serve", join(dir, "config.yml")], { stdio: "ignore" });
  t.teardown(() => stop(proc));
  await listening(port, proc);
  return `127.0.0.1:${port}`;
}

/** A hosts directory as machined writes it for `registries`. */
function hostsDir(t: Teardown, registries: RegistriesConfig): string {
  const dir = join(tempDir(t, "kiln-hosts-"), "certs.d");
  writeRegistryHosts(dir, registryHostsFiles(registries, dir));
  return dir;
}

/** TLS settings for a host: trust `ca`, present `client`. */
function tlsWith(ca: CertAndKey, client: CertAndKey) {
  return { ca: encodeBase64Pem(ca.crt), clientCert: encodeBase64Pem(client.crt), clientKey: encodeBase64Pem(client.key) };
}

/** Runs ctr and returns its output and error text, failing or not. */
function tryCtr(socket: string, ...args: string[]): { ok: boolean; out: string } {
  try {
    return { ok: true, out: execFileSync("ctr", ["-a", socket, ...args], { stdio: "pipe", encoding: "utf8" }) };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

t.test("pulls through a TLS registry with the CA and client certificate of the hosts directory, and not with a wrong CA", { skip, timeout: 240_000 }, async (t) => {
  const [ca, wrongCa] = [await createCA("registry test CA"), await createCA("some other CA")];
  const client = await issueClientCert(ca, { roles: ["puller"], commonName: "kiln-node" });
  const registry = await startRegistry(t, ca);
  const good = hostsDir(t, { hosts: [{ host: registry, tls: tlsWith(ca, client) }] });
  const remote = `${registry}/kiln/pause:test`;

  // Push: the pause image, imported into one containerd, goes to the registry through the same hosts directory.
  const pusher = await startContainerd(t);
  const { archive } = await ociImageArchive({ name: local, files: [{ path: "/catatonit", source: catatonit, mode: 0o755 }], entrypoint: ["/catatonit", "-P"], epoch: 0 });
  writeFileSync(join(pusher.dir, "pause.tar"), archive);
  ctr(pusher.socket, "images", "import", join(pusher.dir, "pause.tar"));
  ctr(pusher.socket, "images", "tag", local, remote);
  ctr(pusher.socket, "images", "push", "--hosts-dir", good, remote);

  // Pull into a second containerd that has never seen the image.
  const { socket } = await startContainerd(t);
  const wrong = hostsDir(t, { hosts: [{ host: registry, tls: tlsWith(wrongCa, client) }] });
  const refused = tryCtr(socket, "images", "pull", "--hosts-dir", wrong, remote);
  t.notOk(refused.ok, "a wrong CA is refused");
  t.match(refused.out, /x509: certificate signed by unknown authority/, "and the error names certificate verification");
  const noClient = hostsDir(t, { hosts: [{ host: registry, tls: { ca: encodeBase64Pem(ca.crt) } }] });
  t.notOk(tryCtr(socket, "images", "pull", "--hosts-dir", noClient, remote).ok, "without the client certificate the registry refuses");
  t.equal(ctr(socket, "images", "ls", "-q").trim(), "", "nothing was pulled");

  const pulled = tryCtr(socket, "images", "pull", "--hosts-dir", good, remote);
  t.ok(pulled.ok, `the right CA and client certificate pull it${pulled.ok ? "" : `: ${pulled.out}`}`);
  t.match(ctr(socket, "images", "ls", "-q"), remote);

  // A mirror: images named after a registry that does not exist come from ours.
  const mirrored = hostsDir(t, { mirrors: [{ registry: "registry.invalid", endpoints: [`https://${registry}`] }], hosts: [{ host: registry, tls: tlsWith(ca, client) }] });
  const viaMirror = tryCtr(socket, "images", "pull", "--hosts-dir", mirrored, "registry.invalid/kiln/pause:test");
  t.ok(viaMirror.ok, `a mirror endpoint serves registry.invalid's images${viaMirror.ok ? "" : `: ${viaMirror.out}`}`);
});

t.test("containerd's CRI plugin starts with config_path and registry logins together", { skip: cannotRun(), timeout: 120_000 }, async (t) => {
  const dir = tempDir(t, "kiln-cri-");
  const paths = { ...containerdPaths, root: join(dir, "root"), state: join(dir, "state"), socket: join(dir, "c.sock"), registryHosts: join(dir, "certs.d"), cniConf: join(dir, "cni") };
  const registries: RegistriesConfig = { hosts: [{ host: "registry.local:5000", auth: { username: "u", password: "p" } }, { host: "docker.io", auth: { identityToken: "t" } }] };
  writeRegistryHosts(paths.registryHosts, registryHostsFiles(registries, paths.registryHosts));
  writeFileSync(join(dir, "config.toml"), containerdConfig(paths as unknown as typeof containerdPaths, null, registries));
  const proc = spawn("containerd", ["--config", join(dir, "config.toml")], { stdio: "ignore" });
  t.teardown(() => stop(proc));
  for (let i = 0; i < 100 && !existsSync(paths.socket); i++) await new Promise((r) => setTimeout(r, 50));
  const cri = ctr(paths.socket, "plugins", "ls").split("\n").find((l) => /\bcri\b/.test(l));
  t.match(cri, /io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok/, "the CRI plugin loaded");
});
