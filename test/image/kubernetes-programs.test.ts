// Which Kubernetes programs an image takes and the version it records, read
// at build time. Stand-in programs print a version line here; the kubernetes
// tier (test/kubernetes/) builds an image from the real ones.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { buildImage, kubernetesPrograms } from "../../src/image/build-image.js";
import { KUBERNETES_PROGRAMS } from "../../src/machinery/components.js";

/** A directory of stand-in programs printing `Kubernetes <version>` (per program, when given). */
function programs(t: Test, version: string, except: Record<string, string | null> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-k8s-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const name of KUBERNETES_PROGRAMS) {
    const v = name in except ? except[name] : version;
    if (v === null) continue;
    writeFileSync(join(dir, name), `#!${process.execPath}\nconsole.log(${JSON.stringify(`Kubernetes ${v}`)});\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}

t.test("--kubernetes DIR: five programs and their one version", async (t) => {
  const dir = programs(t, "v1.20.2");
  const got = kubernetesPrograms({ outDir: "/unused", kubernetes: dir });
  t.same(got.components, { kubernetes: "v1.20.2", kubernetesPrograms: [...KUBERNETES_PROGRAMS] });
  t.same(got.files.map((f) => f.source), KUBERNETES_PROGRAMS.map((p) => join(dir, p)));
});

t.test("--kubelet PATH: the kubelet alone, its version read at build time", async (t) => {
  const dir = programs(t, "v1.27.3");
  t.same(kubernetesPrograms({ outDir: "/unused", kubelet: join(dir, "kubelet") }).components, { kubernetes: "v1.27.3", kubernetesPrograms: ["kubelet"] });
  t.same(kubernetesPrograms({ outDir: "/unused" }).components, { kubernetes: null, kubernetesPrograms: [] }, "no Kubernetes, nothing recorded");
});

t.test("programs of two versions are refused, naming each", async (t) => {
  const dir = programs(t, "v1.20.2", { "kube-proxy": "v1.21.0" });
  t.throws(() => kubernetesPrograms({ outDir: "/unused", kubernetes: dir }), /different versions: .*kube-proxy v1\.21\.0.*hack\/kubernetes\.sh/);
});

t.test("bad inputs are refused before any work", async (t) => {
  const out = join(tmpdir(), "kiln-never-written");
  const missing = programs(t, "v1.20.2", { "kube-scheduler": null, "kube-apiserver": null });
  await t.rejects(buildImage({ outDir: out, kubernetes: missing }), /--kubernetes .*: no kube-apiserver, kube-scheduler there; build them with 'bash hack\/kubernetes\.sh'/);
  const dir = programs(t, "v1.20.2");
  await t.rejects(buildImage({ outDir: out, kubernetes: dir, kubelet: join(dir, "kubelet") }), /--kubelet and --kubernetes: give one/);
  const silent = programs(t, "v1.20.2", { kubelet: "" });
  writeFileSync(join(silent, "kubelet"), `#!${process.execPath}\n`);
  await t.rejects(buildImage({ outDir: out, kubernetes: silent }), /kubelet --version printed no version/);
});

t.test("--image-cache: a missing file, a name not *.tar, and a second archive of one name are refused before any work", async (t) => {
  const out = join(tmpdir(), "kiln-never-written");
  const dir = programs(t, "v1.20.2");
  await t.rejects(buildImage({ outDir: out, imageCache: [join(dir, "nope.tar")] }), /--image-cache .*nope\.tar: no such file; give an OCI image archive/);
  writeFileSync(join(dir, "app.oci"), "");
  await t.rejects(buildImage({ outDir: out, imageCache: [join(dir, "app.oci")] }), /--image-cache .*app\.oci: expected an OCI image archive named \*\.tar/);
  writeFileSync(join(dir, "pause.tar"), "");
  await t.rejects(buildImage({ outDir: out, imageCache: [join(dir, "pause.tar")] }), /a second archive named pause\.tar \(pause\.tar is kiln's own\); rename one/);
});
