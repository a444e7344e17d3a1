// kilnctl image import end to end over mTLS against a real sandbox: an OCI
// archive of a pause-like image (catatonit) streamed through apid to
// machined, into the sandbox's containerd, then listed by `kilnctl images`;
// a reader and an operator refused; a junk file refused with the
// importer's words.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import t from "tap";
import { ociImageArchive } from "../../src/image/oci-image.js";
import { consoleTail, createSandbox, destroySandbox, kilnctl, type Ran, type Sandbox, waitFor } from "./sandbox-helpers.js";
import { scratchDir } from "../fixtures/scratch.js";

const catatonit = "/usr/bin/catatonit";
const dir = scratchDir("kiln-e2e-import-");
const name = "t-image-import";
const kilnconfig = join(dir, "kilnconfig");
const image = "kiln.local/imported:e2e";
let sb: Sandbox;

/** kilnctl with a kilnconfig (the admin's by default). */
const ctl = (args: string[], config = kilnconfig): Ran => kilnctl(args, { KILNCONFIG: config });

t.before(async () => {
  if (!existsSync(catatonit)) return;
  const g = kilnctl(["gen", "config", "--name", "e2e", "--endpoint", "127.0.0.1", "--out", dir]);
  if (g.code !== 0) throw new Error(g.stderr);
  sb = createSandbox(name, readFileSync(join(dir, "standalone.yaml"), "utf8"));
  const e = ctl(["config", "endpoint", sb.endpoint]);
  if (e.code !== 0) throw new Error(e.stderr);
  await waitFor("apid over mTLS", () => ctl(["version"]).code === 0, 30_000, 250);
  await waitFor("containerd to answer", () => ctl(["images"]).code === 0, 60_000, 500);
});
t.teardown(() => {
  destroySandbox(name);
});
t.afterEach((t) => {
  if (!t.passing() && sb) t.comment(`console of ${name}:\n${consoleTail(sb)}`);
});

const skip = !existsSync(catatonit) && "needs catatonit (apt-get install catatonit)";

t.test("an admin imports an OCI archive into k8s.io and kilnctl images shows it", { skip }, async (t) => {
  const { archive, manifestDigest } = await ociImageArchive({ name: image, files: [{ path: "/catatonit", source: catatonit, mode: 0o755 }], entrypoint: ["/catatonit", "-P"], epoch: 0 });
  const file = join(dir, "pause.tar");
  writeFileSync(file, archive);
  const t0 = performance.now();
  const r = ctl(["image", "import", file, "-o", "json"]);
  t.comment(`${(archive.length / 1024).toFixed(0)} KiB imported through apid in ${((performance.now() - t0) / 1000).toFixed(2)} s (kilnctl's start included)`);
  t.equal(r.code, 0, r.stderr);
  t.match(JSON.parse(r.stdout), [{ namespace: "k8s.io", name: image, digest: manifestDigest }]);
  t.match(r.stderr, /\[send\] sending pause\.tar/);
  const images = JSON.parse(ctl(["images", "--namespace", "k8s.io", "-o", "json"]).stdout) as { name: string; digest: string }[];
  t.match(images.find((i) => i.name === image), { name: image, digest: manifestDigest }, "kilnctl images lists it");
});

t.test("a 64 MiB archive goes through apid under flow control: time and throughput", { skip }, async (t) => {
  const blob = join(dir, "blob");
  writeFileSync(blob, randomBytes(64 << 20));
  const { archive } = await ociImageArchive({ name: "kiln.local/big:e2e", files: [{ path: "/blob", source: blob, mode: 0o644 }], entrypoint: ["/blob"], epoch: 0 });
  const file = join(dir, "big.tar");
  writeFileSync(file, archive);
  const t0 = performance.now();
  const r = ctl(["image", "import", file, "-o", "json"]);
  const s = (performance.now() - t0) / 1000;
  t.equal(r.code, 0, r.stderr);
  t.match(JSON.parse(r.stdout), [{ name: "kiln.local/big:e2e" }]);
  t.comment(`${(archive.length / 2 ** 20).toFixed(1)} MiB imported through apid in ${s.toFixed(2)} s: ${(archive.length / 2 ** 20 / s).toFixed(1)} MiB/s (kilnctl's start included)`);
});

t.test("a reader and an operator are refused (PERMISSION_DENIED)", { skip }, async (t) => {
  const file = join(dir, "pause.tar");
  for (const role of ["os:reader", "os:operator"]) {
    const config = join(dir, `${role.slice(3)}.kilnconfig`);
    const g = kilnctl(["gen", "kilnconfig", "--secrets", join(dir, "secrets.yaml"), "--role", role, "--out", config, "--endpoint", sb.endpoint]);
    t.equal(g.code, 0, g.stderr);
    const r = ctl(["image", "import", file], config);
    t.equal(r.code, 1, r.stderr);
    t.match(r.stderr, new RegExp(`role ${role} may not call /kiln\\.machine\\.v1\\.MachineService/ImageImport \\(needs os:admin\\)`));
  }
});

t.test("a junk file is refused with what the importer found", { skip }, async (t) => {
  const junk = join(dir, "junk.tar");
  writeFileSync(junk, randomBytes(64 * 1024));
  const r = ctl(["image", "import", junk]);
  t.equal(r.code, 1);
  t.match(r.stderr, /^kilnctl: importing .*junk\.tar: the archive: not a tar archive, or one cut short/m);
});
