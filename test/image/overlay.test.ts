// --overlay DIR: files laid over the finished rootfs plan replace or add,
// paths follow the image's links, and conflicts and links out of the image
// are refused, every one named with both paths.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import t, { type Test } from "tap";
import { overlayPlan } from "../../src/image/overlay.js";
import type { PlanEntry } from "../../src/image/plan.js";
import { buildRootfs } from "../../src/image/rootfs.js";

/** A scratch dir removed after the test. */
function scratch(t: Test, prefix = "kiln-overlay-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `files` (path → content, or {link} for a symlink) under `dir`. */
function tree(dir: string, files: Record<string, string | { link: string }>): string {
  for (const [p, v] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    if (typeof v === "string") writeFileSync(join(dir, p), v);
    else symlinkSync(v.link, join(dir, p));
  }
  return dir;
}

/** A small image plan: merged /usr, containerd, /etc/ssl and /sbin/init. */
function image(t: Test): PlanEntry[] {
  const host = tree(scratch(t), { containerd: "\x7fELF containerd" });
  const file = (path: string): PlanEntry => ({ kind: "file", path, mode: 0o755, source: join(host, "containerd"), key: "k", linkable: true });
  return [
    { kind: "link", path: "/bin", target: "usr/bin" },
    { kind: "dir", path: "/etc", mode: 0o755 },
    { kind: "dir", path: "/etc/ssl", mode: 0o755 },
    { kind: "dir", path: "/sbin", mode: 0o755 },
    { kind: "link", path: "/sbin/init", target: "/usr/lib/kiln/machined.cjs" },
    { kind: "dir", path: "/usr", mode: 0o755 },
    { kind: "dir", path: "/usr/bin", mode: 0o755 },
    file("/usr/bin/containerd"),
  ];
}

const byPath = (entries: PlanEntry[]) => new Map(entries.map((e) => [e.path, e]));

t.test("a file replaces the image's, new files bring their directories, all sorted", async (t) => {
  const dir = tree(scratch(t), { "usr/bin/containerd": "broken\n", "etc/ssl/certs/site.pem": "-----BEGIN CERTIFICATE-----\n", "usr/local/bin/tool": "#!/usr/bin/node\n" });
  chmodSync(join(dir, "usr/local/bin/tool"), 0o700);
  const out = overlayPlan(image(t), dir);
  const m = byPath(out);
  t.match(m.get("/usr/bin/containerd"), { kind: "file", source: join(dir, "usr/bin/containerd"), mode: 0o644, linkable: false });
  t.match(m.get("/etc/ssl/certs"), { kind: "dir", mode: 0o755 });
  t.match(m.get("/etc/ssl/certs/site.pem"), { kind: "file", mode: 0o644 });
  t.match(m.get("/usr/local/bin/tool"), { kind: "file", mode: 0o755 }, "any execute bit makes 0755");
  t.same(out.map((e) => e.path), [...out.map((e) => e.path)].sort(), "sorted by path");
  t.equal(out.length, image(t).length + 5);
});

t.test("paths go through the image's links; a file may replace a link", async (t) => {
  const dir = tree(scratch(t), { "bin/kiln-debug": "x", "sbin/init": "#!/usr/bin/node\n" });
  const m = byPath(overlayPlan(image(t), dir));
  t.match(m.get("/usr/bin/kiln-debug"), { kind: "file" }, "bin/ is usr/bin/");
  t.notOk(m.has("/bin/kiln-debug"), "nothing beneath a link");
  t.match(m.get("/bin"), { kind: "link", target: "usr/bin" });
  t.match(m.get("/sbin/init"), { kind: "file", source: join(dir, "sbin/init") });
});

t.test("links stay links when they stay inside the image", async (t) => {
  const dir = tree(scratch(t), { "etc/ssl/ca.pem": { link: "/usr/bin/containerd" }, "etc/rel": { link: "../usr/bin" }, "usr/new/x": "x", "etc/later": { link: "/usr/new/x" } });
  const m = byPath(overlayPlan(image(t), dir));
  t.match(m.get("/etc/ssl/ca.pem"), { kind: "link", target: "/usr/bin/containerd" });
  t.match(m.get("/etc/rel"), { kind: "link", target: "../usr/bin" });
  t.match(m.get("/etc/later"), { kind: "link", target: "/usr/new/x" }, "may point at what the overlay adds");
});

t.test("conflicts and links out of the image are refused together, naming both paths", async (t) => {
  const dir = tree(scratch(t), {
    "etc/ssl": "a file where the image has a directory",
    "usr/bin/containerd/config.toml": "a directory where the image has a file",
    "usr/bin/escape": { link: "../../../../etc/shadow" },
    "etc/host.pem": { link: "/home/alice/site.pem" },
  });
  const err = (() => {
    try {
      overlayPlan(image(t), dir);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  })();
  t.match(err, `--overlay ${dir}:\n`);
  t.match(err, `${dir}/etc/ssl is a file, but /etc/ssl is a directory in the image`);
  t.match(err, `${dir}/usr/bin/containerd is a directory, but /usr/bin/containerd is a file in the image`);
  t.match(err, `${dir}/usr/bin/escape is a link to ../../../../etc/shadow, which climbs above the image's root (it would be /usr/bin/escape)`);
  t.match(err, `${dir}/etc/host.pem is a link to /home/alice/site.pem, but the image has no /home (it would be /etc/host.pem): link to a path inside the image, or copy the file into the overlay`);
});

t.test("a directory over a link that is not a directory, and a missing overlay, are refused", async (t) => {
  t.throws(() => overlayPlan(image(t), tree(scratch(t), { "sbin/init/x": "x" })), /sbin\/init is a directory, but \/sbin\/init in the image is a link to \/usr\/lib\/kiln\/machined\.cjs, which is not a directory/);
  t.throws(() => overlayPlan(image(t), "/nonexistent/overlay"), /^--overlay \/nonexistent\/overlay: not a directory/);
});

t.test("buildRootfs lays the overlay over everything, and it changes the tree's hash", async (t) => {
  const dist = scratch(t, "kiln-dist-");
  writeFileSync(join(dist, "machined.cjs"), "#!/usr/bin/node\n");
  writeFileSync(join(dist, "apid.cjs"), "#!/usr/bin/node\n");
  writeFileSync(join(dist, "config-worker.cjs"), "");
  const outDir = scratch(t, "kiln-cache-");
  const plain = buildRootfs({ outDir, distDir: dist });
  const overlay = tree(scratch(t), { "usr/bin/containerd": "not a program\n" });
  const r = buildRootfs({ outDir, distDir: dist, overlay });
  t.not(r.hash, plain.hash);
  t.equal(readFileSync(join(r.dir, "usr/bin/containerd"), "utf8"), "not a program\n");
  t.match(r.entries.find((e) => e.path === "/usr/bin/containerd"), { kind: "file", mode: 0o644 });
});
