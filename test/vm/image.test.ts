// The image itself, without booting it: manifest.json tells the truth (the
// sha256 of every output, the file list of rootfs.sqsh), the root holds no
// shell and no ELF beyond the declared programs, their libraries, koffi and
// kernel modules, and two builds from the same inputs are byte-identical.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, lstatSync, readdirSync, readFileSync, } from "node:fs";
import { join, posix } from "node:path";
import t from "tap";
import { isElf } from "../../src/image/elf.js";
import { IMAGE_OUTPUTS } from "../../src/image/image-manifest.js";
import { cacheRoot } from "../../src/image/paths.js";
import { kilnctl, skip, testImage } from "./vm-helpers.js";
import { scratchDir } from "../fixtures/scratch.js";

interface Manifest {
  kiln: string;
  versions: Record<string, string | null>;
  sha256: Record<string, string>;
  rootfs: { path: string; type: string; sha256?: string }[];
}

const sha256 = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");
const manifestOf = (dir: string) => JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;

t.test("manifest.json describes the image", { skip }, async (t) => {
  const image = testImage();
  const m = manifestOf(image);
  for (const f of IMAGE_OUTPUTS) t.equal(m.sha256[f], sha256(join(image, f)), `sha256 of ${f}`);
  for (const k of ["kernel", "node", "containerd", "runc", "kiln"]) t.ok(m.versions[k], `records the ${k} version: ${m.versions[k]}`);
  t.match(readFileSync(join(image, "cmdline"), "utf8"), /console=ttyS0 panic=\d+/, "the default kernel command line");
});

t.test("no shell, and every ELF is declared", { skip }, async (t) => {
  const image = testImage();
  const m = manifestOf(image);
  const names = m.rootfs.map((f) => posix.basename(f.path));
  for (const shell of ["sh", "bash", "dash", "ash", "zsh", "busybox", "sshd", "ssh", "login", "getty"]) {
    t.notOk(names.includes(shell), `no ${shell} in rootfs.sqsh`);
  }
  // Unpack the real squashfs and compare it with the manifest's list.
  const out = join(scratchDir("kiln-sqsh-"), "root"); // ~330 MiB unpacked
  execFileSync("unsquashfs", ["-q", "-n", "-d", out, join(image, "rootfs.sqsh")]);
  const onDisk = walk(out).map((p) => p.slice(out.length) || "/");
  const listed = new Set(m.rootfs.map((f) => f.path));
  t.same(onDisk.filter((p) => p !== "/" && !listed.has(p)), [], "every file in rootfs.sqsh is in manifest.json");
  const declared = declaredElfs(m);
  // Regular files only: a link (iptables → xtables-nft-multi) is checked as its target.
  const elfs = onDisk.filter((p) => lstatSync(join(out, p), { throwIfNoEntry: false })?.isFile() && isElf(join(out, p)));
  t.ok(elfs.length > 10, `found ${elfs.length} ELF files`);
  t.same(elfs.filter((p) => !declared(p)), [], "no ELF outside the declared programs, their libraries, koffi and modules");
});

t.test("two builds from the same inputs are byte-identical", { skip, timeout: 600_000 }, async (t) => {
  const first = testImage();
  // A fresh cache (the kernel package kept: it is an input, not a build product).
  const cache = scratchDir("kiln-cache-"); // ~1.2 GiB
  const kernelCache = join(cacheRoot(), "kernel");
  if (existsSync(kernelCache)) cpSync(kernelCache, join(cache, "kernel"), { recursive: true });
  const second = join(cache, "image");
  const r = kilnctl(["image", "build", "--out", second], { KILN_CACHE: cache }, 600_000);
  t.equal(r.code, 0, `second build: ${r.stderr}`);
  for (const f of [...IMAGE_OUTPUTS, "manifest.json"]) t.equal(sha256(join(second, f)), sha256(join(first, f)), `${f} is identical`);
});

/** Every path under dir (directories included), sorted. */
function walk(dir: string): string[] {
  const out = [dir];
  for (const d of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/** What may be an ELF: rootfs/manifest.yaml's programs, shared libraries, iptables' extensions, koffi's module, kernel modules. */
function declaredElfs(m: Manifest): (p: string) => boolean {
  const programs = new Set(["/usr/bin/node", "/usr/bin/containerd", "/usr/bin/containerd-shim-runc-v2", "/usr/bin/runc", "/usr/bin/kubelet", "/usr/sbin/mkfs.ext4",
    "/usr/bin/mount", "/usr/bin/umount", "/usr/sbin/xtables-nft-multi", "/usr/sbin/conntrack", "/usr/bin/etcd"]);
  return (p) =>
    programs.has(p) ||
    p.startsWith("/usr/lib/cni/") ||
    /^\/usr\/lib\/x86_64-linux-gnu\/xtables\/lib[^/]+\.so$/.test(p) ||
    /^\/usr\/lib(64)?\/(x86_64-linux-gnu\/)?(lib[^/]+\.so[.\d]*|ld-linux-x86-64\.so\.2)$/.test(p) ||
    p === "/usr/lib/kiln/node_modules/koffi/build/koffi/linux_x64/koffi.node" ||
    (p.startsWith(`/usr/lib/modules/${m.versions.kernel}/kernel/`) && p.endsWith(".ko"));
}
