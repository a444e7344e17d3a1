// The rootfs tree runs: node (with koffi), containerd, runc and a CNI plugin
// start under chroot with only the libraries the builder resolved, and
// /sbin/init reaches machined through its shebang. Needs root for chroot;
// on CI its absence fails.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { buildRootfs } from "../../src/image/rootfs.js";
import { scratchDir } from "../fixtures/scratch.js";

const isRoot = process.getuid?.() === 0;
const skip = !isRoot && process.env.CI !== "true" && "needs root (chroot)";

t.test("programs run from the tree with only its own libraries", { skip }, async (t) => {
  if (!isRoot) {
    t.fail("needs root (chroot)");
    return;
  }
  const dir = scratchDir("kiln-rootfs-");
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirDist(dir);
  const r = buildRootfs({ outDir: join(dir, "cache"), distDir: join(dir, "dist") });
  // env -i: the test runner adds NODE_OPTIONS naming host files to every spawn.
  const chroot = (...argv: string[]) => execFileSync("/usr/bin/env", ["-i", "PATH=/usr/bin", "/usr/sbin/chroot", r.dir, ...argv], { encoding: "utf8" });
  const js = 'console.log(process.version, require("/usr/lib/kiln/node_modules/koffi").version)';
  t.match(chroot("/usr/bin/node", "-e", js), /^v\d+\.\d+\.\d+ \d+\.\d+\.\d+$/m, "node loads koffi's native module");
  t.match(chroot("/usr/bin/containerd", "--version"), /containerd/);
  t.match(chroot("/usr/bin/runc", "--version"), /runc version/);
  t.match(chroot("/usr/bin/containerd-shim-runc-v2", "-v"), /shim/);
  t.equal(chroot("/sbin/init").trim(), "machined", "/sbin/init runs machined via its shebang");
});

/** A dist/ with stand-ins for the bundles the image requires (machined, apid). */
function mkdirDist(dir: string): void {
  mkdirSync(join(dir, "dist"));
  writeFileSync(join(dir, "dist/machined.cjs"), '#!/usr/bin/node\nconsole.log("machined")\n');
  writeFileSync(join(dir, "dist/apid.cjs"), 'console.log("apid")\n');
  writeFileSync(join(dir, "dist/config-worker.cjs"), "// the config worker\n");
}
