// machine.registries end to end: a real registry (Debian's docker-registry)
// on 127.0.0.1 with TLS from its own CA and client certificates required,
// the pause image pushed into it, and pulled through a real containerd with
// the hosts directory machined writes: with the right CA and client
// certificate, through a mirror, and refused with a wrong CA; and through the
// CRI, as kubelet pulls, with a username and password or an identity token
// exchanged at a token service.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { createServer as createHttpsServer } from "node:https";
import type { RegistriesConfig, RegistryHostConfig } from "../../../src/config/schema.js";
import { ociImageArchive } from "../../../src/image/oci-image.js";
import { writeRegistryHosts } from "../../../src/machined/services/containerd.js";
import { containerdConfig } from "../../../src/machined/services/containerd-config.js";
import { registryHostsFiles } from "../../../src/machined/services/registry-hosts.js";
import { containerdPaths } from "../../../src/machinery/paths.js";
import { type CertAndKey, createCA, issueClientCert, issueServerCert } from "../../../src/pki/certs.js";
import { encodeBase64Pem } from "../../../src/pki/pem.js";
import { cannotRun, ctr, startContainerd, stop } from "../containerd.js";
import { registryBin, startRegistry } from "../../fixtures/registry.js";
import { criPull } from "../cri-pull.js";
import { tempDir, type Teardown } from "../helpers.js";

const catatonit = "/usr/bin/catatonit";
// Under CI a missing program fails the test rather than skipping it.
const missing = [registryBin, catatonit].find((f) => !existsSync(f));
const skip = cannotRun() || (missing !== undefined && process.env.CI !== "true" && `needs ${missing} (apt-get install docker-registry catatonit; hack/setup.sh)`);
const local = "kiln.local/pause:test";

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

/** A registry holding the pause image as kiln/pause:test, pushed through the hosts directory machined writes. */
async function registryWithImage(t: Teardown) {
  const [ca, client] = await certificates();
  const registry = await startRegistry(t, ca);
  const good = hostsDir(t, { hosts: [{ host: registry.host, tls: tlsWith(ca, client) }] });
  const remote = `${registry.host}/kiln/pause:test`;
  const pusher = await startContainerd(t);
  const { archive } = await ociImageArchive({ name: local, files: [{ path: "/catatonit", source: catatonit, mode: 0o755 }], entrypoint: ["/catatonit", "-P"], epoch: 0 });
  writeFileSync(join(pusher.dir, "pause.tar"), archive);
  ctr(pusher.socket, "images", "import", join(pusher.dir, "pause.tar"));
  ctr(pusher.socket, "images", "tag", local, remote);
  ctr(pusher.socket, "images", "push", "--hosts-dir", good, remote);
  return { ca, client, registry, good, remote };
}

/** A CA and a client certificate it signed. */
async function certificates(): Promise<[CertAndKey, CertAndKey]> {
  const ca = await createCA("registry test CA");
  return [ca, await issueClientCert(ca, { roles: ["puller"], commonName: "kiln-node" })];
}

t.test("pulls through a TLS registry with the CA and client certificate of the hosts directory, and not with a wrong CA", { skip, timeout: 240_000 }, async (t) => {
  const { ca, client, registry, good, remote } = await registryWithImage(t);
  const wrongCa = await createCA("some other CA");
  // Pull into a second containerd that has never seen the image.
  const { socket } = await startContainerd(t);
  const wrong = hostsDir(t, { hosts: [{ host: registry.host, tls: tlsWith(wrongCa, client) }] });
  const refused = tryCtr(socket, "images", "pull", "--hosts-dir", wrong, remote);
  t.notOk(refused.ok, "a wrong CA is refused");
  t.match(refused.out, /x509: certificate signed by unknown authority/, "and the error names certificate verification");
  const noClient = hostsDir(t, { hosts: [{ host: registry.host, tls: { ca: encodeBase64Pem(ca.crt) } }] });
  t.notOk(tryCtr(socket, "images", "pull", "--hosts-dir", noClient, remote).ok, "without the client certificate the registry refuses");
  t.equal(ctr(socket, "images", "ls", "-q").trim(), "", "nothing was pulled");

  const pulled = tryCtr(socket, "images", "pull", "--hosts-dir", good, remote);
  t.ok(pulled.ok, `the right CA and client certificate pull it${pulled.ok ? "" : `: ${pulled.out}`}`);
  t.match(ctr(socket, "images", "ls", "-q"), remote);

  // A mirror: images named after a registry that does not exist come from ours.
  const mirrored = hostsDir(t, { mirrors: [{ registry: "registry.invalid", endpoints: [`https://${registry.host}`] }], hosts: [{ host: registry.host, tls: tlsWith(ca, client) }] });
  const viaMirror = tryCtr(socket, "images", "pull", "--hosts-dir", mirrored, "registry.invalid/kiln/pause:test");
  t.ok(viaMirror.ok, `a mirror endpoint serves registry.invalid's images${viaMirror.ok ? "" : `: ${viaMirror.out}`}`);

  // No verification: no CA needed (the registry still wants the client certificate).
  const unverified = hostsDir(t, { hosts: [{ host: registry.host, tls: { ...tlsWith(wrongCa, client), ca: undefined, insecureSkipVerify: true } }] });
  t.match(readFileSync(join(unverified, registry.host, "hosts.toml"), "utf8"), /^skip_verify = true$/m);
  const skipped = tryCtr(socket, "images", "pull", "--hosts-dir", unverified, remote);
  t.ok(skipped.ok, `insecureSkipVerify resolves and pulls without the CA${skipped.ok ? "" : `: ${skipped.out}`}`);
});

/** A token service on 127.0.0.1 (TLS from `ca`): a token for the right password or identity token, 401 otherwise; what it was asked, recorded. */
async function startTokenService(t: Teardown, ca: CertAndKey, login: { username: string; password: string; refresh: string }) {
  const asked: string[] = [];
  const cert = await issueServerCert(ca, { commonName: "127.0.0.1", sans: ["127.0.0.1"] });
  const server = createHttpsServer({ cert: cert.crt, key: cert.key }, (req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      const form = new URLSearchParams(body);
      const grant = form.get("grant_type") ?? "none";
      asked.push(`${req.method} ${grant}`);
      const ok =
        (grant === "password" && form.get("username") === login.username && form.get("password") === login.password) ||
        (grant === "refresh_token" && form.get("refresh_token") === login.refresh);
      res.writeHead(ok ? 200 : 401, { "content-type": "application/json" });
      res.end(ok ? JSON.stringify({ access_token: "granted", expires_in: 300 }) : "{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => new Promise((r) => server.close(r)));
  const { port } = server.address() as { port: number };
  return { realm: `https://127.0.0.1:${port}/token`, asked };
}

/** A containerd with its CRI on, configured by containerdConfig and the hosts directory for `registries`; stopped at teardown. */
async function startCri(t: Teardown, registries: RegistriesConfig): Promise<string> {
  const dir = tempDir(t, "kiln-cri-");
  const paths = { ...containerdPaths, root: join(dir, "root"), state: join(dir, "state"), socket: join(dir, "c.sock"), registryHosts: join(dir, "certs.d"), cniConf: join(dir, "cni") };
  writeRegistryHosts(paths.registryHosts, registryHostsFiles(registries, paths.registryHosts));
  writeFileSync(join(dir, "config.toml"), containerdConfig(paths as unknown as typeof containerdPaths, null, registries));
  const proc = spawn("containerd", ["--config", join(dir, "config.toml")], { stdio: "ignore" });
  t.teardown(() => stop(proc));
  for (let i = 0; i < 100 && !existsSync(paths.socket); i++) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(paths.socket)) throw new Error("containerd did not create its socket within 5s");
  return paths.socket;
}

t.test("kubelet's pulls (the CRI) log in with the username and password or the identity token of machine.registries", { skip, timeout: 240_000 }, async (t) => {
  const { ca, registry } = await registryWithImage(t);
  const login = { username: "puller", password: 'pw "with" \\ quotes', refresh: "refresh-123" };
  const tokens = await startTokenService(t, ca, login);
  // The same images behind a registry that wants a token from the service.
  const guarded = await startRegistry(t, ca, { clientCerts: false, realm: tokens.realm, data: registry.data });
  const image = `${guarded.host}/kiln/pause:test`;
  const tls = { ca: encodeBase64Pem(ca.crt) };
  const withAuth = (auth?: RegistryHostConfig["auth"]) => ({ hosts: [{ host: guarded.host, tls, ...(auth ? { auth } : {}) }] });

  await t.rejects(criPull(await startCri(t, withAuth()), image), /failed to authorize: .*401 Unauthorized/, "without a login the pull is refused");
  await t.rejects(criPull(await startCri(t, withAuth({ username: login.username, password: "wrong" })), image), /failed to authorize: .*401 Unauthorized/, "a wrong password is refused");
  t.match(await criPull(await startCri(t, withAuth({ username: login.username, password: login.password })), image), /^sha256:/, "username and password pull it");
  t.ok(tokens.asked.includes("POST password"), "the token service was asked with the password");
  t.match(await criPull(await startCri(t, withAuth({ identityToken: login.refresh })), image), /^sha256:/, "an identity token pulls it");
  t.ok(tokens.asked.includes("POST refresh_token"), "the token service was asked with the refresh token");
});

t.test("containerd's CRI plugin starts with config_path and registry logins together", { skip: cannotRun(), timeout: 120_000 }, async (t) => {
  const socket = await startCri(t, { hosts: [{ host: "registry.local:5000", auth: { username: "u", password: "p" } }, { host: "docker.io", auth: { identityToken: "t" } }] });
  const cri = ctr(socket, "plugins", "ls").split("\n").find((l) => /\bcri\b/.test(l));
  t.match(cri, /io\.containerd\.grpc\.v1\s+cri\s+\S+\s+ok/, "the CRI plugin loaded");
});
