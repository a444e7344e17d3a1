// `kilnctl image import` against machined's real API server backed by the
// fake Machine: the file streamed whole, the images printed, steps on
// stderr, usage errors before any call, the machine's refusals as exit 1.
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import t from "tap";
import { invalid, unavailable } from "../../src/machined/errors.js";
import { fakeMachineCli } from "./fixtures/fake-machine-cli.js";

const MiB = 1 << 20;

/** A fake machine served on a temp socket, an archive of 2.5 MiB; `run` runs kilnctl against it. */
async function setup(t: { teardown(fn: () => unknown): void }) {
  const served = await fakeMachineCli(t, "kilnctl-import-");
  const archive = join(served.dir, "app.tar");
  await writeFile(archive, randomBytes(2.5 * MiB));
  return { ...served, archive };
}

t.test("image import streams the whole file and prints the imported images", async (t) => {
  const { machine, run, archive } = await setup(t);
  const r = await run(["image", "import", archive, "-o", "json"]);
  t.equal(r.code, 0, r.err);
  t.strictSame(JSON.parse(r.out), [{ node: "node-a", namespace: "k8s.io", name: "kiln.local/fake:1", digest: `sha256:${"a".repeat(64)}`, mediaType: "application/vnd.oci.image.index.v1+json" }]);
  t.same(machine.calls, [`imageImport k8s.io ${2.5 * MiB} ${2.5 * MiB}`]);
  t.match(r.err, /^kilnctl: \[send\] sending app\.tar: 2\.5 MiB\nkilnctl: \[import\] importing into containerd \(k8s\.io\)\n$/);
});

t.test("--namespace goes to the machine; the table names each image", async (t) => {
  const { machine, run, archive } = await setup(t);
  const r = await run(["image", "import", archive, "--namespace", "mine"]);
  t.equal(r.code, 0, r.err);
  t.match(r.out.split("\n")[1], /^node-a\s+mine\s+kiln\.local\/fake:1\s+sha256:aaaaaaaaaaaa$/);
  t.same(machine.calls, [`imageImport mine ${2.5 * MiB} ${2.5 * MiB}`]);
});

t.test("a missing, empty or not regular file is a usage error before any call", async (t) => {
  const { machine, run, dir } = await setup(t);
  const empty = join(dir, "empty.tar");
  await writeFile(empty, "");
  for (const [file, why] of [[join(dir, "none.tar"), "no such file"], [empty, "the file is empty: give an image archive (.tar)"], [dir, "not a regular file: give an image archive (.tar)"]] as const) {
    const r = await run(["image", "import", file]);
    t.same([r.code, r.err], [2, `kilnctl: ${file}: ${why}\n`]);
  }
  t.same(machine.calls, []);
});

t.test("the machine's refusal is exit 1 naming the file; containerd down too (not 'unreachable')", async (t) => {
  const { machine, run, archive } = await setup(t);
  machine.imageImport = async () => {
    throw invalid("the archive: not an OCI image archive (no oci-layout or index.json); give an archive like 'podman save --format oci-archive' writes");
  };
  const r = await run(["image", "import", archive]);
  t.same([r.code, r.err.split("\n").at(-2)], [1, `kilnctl: importing ${archive}: the archive: not an OCI image archive (no oci-layout or index.json); give an archive like 'podman save --format oci-archive' writes`]);
  machine.imageImport = async () => {
    throw unavailable("containerd is not running (no socket at /run/containerd/containerd.sock): start it (kilnctl service containerd start) and retry");
  };
  const down = await run(["image", "import", archive]);
  t.same([down.code, down.err.split("\n").at(-2)], [1, `kilnctl: importing ${archive}: containerd is not running (no socket at /run/containerd/containerd.sock): start it (kilnctl service containerd start) and retry`]);
});
