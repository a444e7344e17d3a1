// Rootfs assembly: contents, libraries, determinism, the cache.
import { createHash } from "node:crypto";
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { isElf } from "../../src/image/elf.js";
import { buildRootfs, type RootfsOptions } from "../../src/image/rootfs.js";
import type { PlanEntry } from "../../src/image/plan.js";

const repo = new URL("../..", import.meta.url).pathname;

/** A scratch dir removed after the test. */
function scratch(t: Test, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A dist/ with a stand-in machined bundle. */
function fakeDist(t: Test, body = 'console.log("machined")'): string {
  const dist = scratch(t, "kiln-dist-");
  writeFileSync(join(dist, "machined.cjs"), `#!/usr/bin/node\n${body}\n`);
  writeFileSync(join(dist, "apid.cjs"), '#!/usr/bin/node\nconsole.log("apid")\n');
  writeFileSync(join(dist, "config-worker.cjs"), "// the config parser thread\n");
  return dist;
}

/** path, kind, mode and content hash of every entry of a built tree. */
function snapshot(dir: string, entries: PlanEntry[]): string[] {
  return entries.map((e) => {
    const st = lstatSync(join(dir, e.path));
    const what = e.kind === "file" ? createHash("sha256").update(readFileSync(join(dir, e.path))).digest("hex") : e.kind === "link" ? readlinkSync(join(dir, e.path)) : "";
    return `${e.path} ${e.kind} ${(st.mode & 0o7777).toString(8)} ${what}`;
  });
}

t.test("holds the programs, their libraries, kiln and the static files", async (t) => {
  const r = buildRootfs({ outDir: scratch(t, "kiln-cache-"), distDir: fakeDist(t) });
  const paths = new Set(r.entries.map((e) => e.path));
  for (const p of ["/usr/bin/node", "/usr/bin/containerd", "/usr/bin/containerd-shim-runc-v2", "/usr/bin/runc", "/usr/lib/cni/bridge",
    "/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libseccomp.so.2", "/usr/lib64/ld-linux-x86-64.so.2",
    "/usr/lib/kiln/machined.cjs", "/usr/lib/kiln/apid.cjs", "/usr/lib/kiln/node_modules/koffi/build/koffi/linux_x64/koffi.node"]) t.ok(paths.has(p), p);
  for (const d of ["/proc", "/sys", "/dev", "/run", "/tmp", "/system", "/etc", "/var", "/mnt"]) t.ok(lstatSync(join(r.dir, d)).isDirectory(), d);
  t.equal(readlinkSync(join(r.dir, "sbin/init")), "/usr/lib/kiln/machined.cjs");
  t.equal(readlinkSync(join(r.dir, "lib64")), "usr/lib64");
  t.match(readFileSync(join(r.dir, "etc/os-release"), "utf8"), /^NAME=kiln$/m);
  t.match(readFileSync(join(r.dir, "etc/passwd"), "utf8"), /^apid:x:\d+:\d+:/m);
  t.equal(lstatSync(join(r.dir, "usr/lib/kiln/machined.cjs")).mode & 0o7777, 0o755);
  t.notOk([...paths].some((p) => /\/(sh|bash|busybox|ls)$/.test(p)), "no shell, no coreutils");
});

t.test("holds what kubelet, kube-proxy and the CNI plugins exec, as ELF programs", async (t) => {
  const r = buildRootfs({ outDir: scratch(t, "kiln-cache-"), distDir: fakeDist(t) });
  for (const p of ["usr/bin/mount", "usr/bin/umount", "usr/sbin/conntrack", "usr/sbin/xtables-nft-multi", "usr/lib/x86_64-linux-gnu/xtables/libxt_comment.so",
    "usr/lib/x86_64-linux-gnu/xtables/libxt_MASQUERADE.so", "usr/lib/x86_64-linux-gnu/xtables/libxt_statistic.so"]) {
    t.ok(lstatSync(join(r.dir, p)).isFile() && isElf(join(r.dir, p)), `${p} is an ELF file`);
  }
  for (const name of ["iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore"]) {
    t.equal(readlinkSync(join(r.dir, "usr/sbin", name)), "xtables-nft-multi", `${name} is iptables-nft`);
  }
  const paths = new Set(r.entries.map((e) => e.path));
  for (const lib of ["libxtables.so.12", "libnftnl.so.11", "libmnl.so.0", "libnetfilter_conntrack.so.3", "libmount.so.1"]) {
    t.ok(paths.has(`/usr/lib/x86_64-linux-gnu/${lib}`), `${lib}, which they need`);
  }
  t.notOk(paths.has("/usr/bin/nsenter"), "no nsenter: kubelet 1.20 with a remote runtime never runs it");
});

// How fast a warm build is lives in the bench (image build warm and cold), not here.
t.test("reuses the cached tree when nothing changed", async (t) => {
  const opts: RootfsOptions = { outDir: scratch(t, "kiln-cache-"), distDir: fakeDist(t) };
  const cold = buildRootfs(opts);
  t.equal(cold.cached, false);
  const warm = buildRootfs(opts);
  t.equal(warm.cached, true);
  t.equal(warm.dir, cold.dir);
  writeFileSync(join(opts.distDir!, "machined.cjs"), "#!/usr/bin/node\n// changed\n");
  const changed = buildRootfs(opts);
  t.not(changed.hash, cold.hash, "a changed input is a new tree");
  t.equal(changed.cached, false);
});

t.test("copies kiln's own files, so rewriting dist/ in place leaves cached trees alone", async (t) => {
  const dist = fakeDist(t);
  const r = buildRootfs({ outDir: scratch(t, "kiln-cache-"), distDir: dist });
  const inTree = join(r.dir, "usr/lib/kiln/machined.bundle.cjs");
  t.equal(lstatSync(inTree).nlink, 1, "machined's bundle is a copy");
  t.match(readFileSync(join(r.dir, "usr/lib/kiln/machined.cjs"), "utf8"), /machined\.bundle\.cjs/, "machined.cjs is the loader of its bundle");
  t.ok(lstatSync(join(r.dir, "usr/lib/kiln/machined.bundle.cjs.v8cache")).size > 0, "beside its code cache");
  t.ok(lstatSync(join(r.dir, "usr/bin/node")).nlink >= 1);
  writeFileSync(join(dist, "machined.cjs"), "#!/usr/bin/node\n// rebuilt\n");
  t.match(readFileSync(inTree, "utf8"), /console\.log\("machined"\)/, "the cached tree kept its content");
});

t.test("two builds from the same inputs give the same tree", async (t) => {
  const dist = fakeDist(t);
  const a = buildRootfs({ outDir: scratch(t, "kiln-cache-"), distDir: dist });
  const b = buildRootfs({ outDir: scratch(t, "kiln-cache-"), distDir: dist });
  t.equal(a.hash, b.hash);
  t.same(snapshot(b.dir, b.entries), snapshot(a.dir, a.entries));
  t.equal(lstatSync(join(a.dir, "etc")).mtimeMs, 0, "fixed mtimes");
  t.equal(lstatSync(a.dir).mode & 0o777, 0o755);
});

t.test("missing bundles, bad manifests and conflicts are errors", async (t) => {
  const outDir = scratch(t, "kiln-cache-");
  t.throws(() => buildRootfs({ outDir, distDir: scratch(t, "kiln-empty-") }), /machined\.cjs is missing: run `npm run build`/);
  const decl = scratch(t, "kiln-decl-");
  cpSync(join(repo, "rootfs"), decl, { recursive: true });
  writeFileSync(join(decl, "manifest.yaml"), "binaries:\n  - from: bin/node\n");
  t.throws(() => buildRootfs({ outDir, rootfsDir: decl, distDir: fakeDist(t) }), /binaries\[0\]\.from: expected an absolute path/);
  writeFileSync(join(decl, "manifest.yaml"), "binaries:\n  - from: /usr/bin/node\n    to: /etc/passwd\n");
  t.throws(() => buildRootfs({ outDir, rootfsDir: decl, distDir: fakeDist(t) }), /conflicting rootfs entries:\n {2}\/etc\/passwd/);
  writeFileSync(join(decl, "manifest.yaml"), "binaries:\n  - from: /nonexistent/kubelet\n    optional: true\n");
  mkdirSync(join(decl, "files/sbin"), { recursive: true });
  t.ok(buildRootfs({ outDir, rootfsDir: decl, distDir: fakeDist(t) }).entries.length > 0, "optional binaries may be absent");
});
