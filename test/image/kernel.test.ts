// Kernel modules: modules.dep resolution (load order, transitive deps,
// builtins, unknown names) and the .modinfo reader behind modules.dep.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import t, { type Test } from "tap";
import { modinfo, writeModulesDep } from "../../src/image/kernel.js";
import { moduleName, resolveModules } from "../../src/machinery/modules-dep.js";

/** A scratch dir removed after the test. */
function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-kernel-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A modules directory holding the given modules.dep and modules.builtin. */
function fakeModules(t: Test, dep: string, builtin = ""): string {
  const dir = scratch(t);
  writeFileSync(join(dir, "modules.dep"), dep);
  writeFileSync(join(dir, "modules.builtin"), builtin);
  return dir;
}

const dep = [
  "kernel/drivers/virtio/virtio_ring.ko:",
  "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko",
  "kernel/net/core/failover.ko:",
  "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko",
  "kernel/drivers/net/virtio_net.ko.xz: kernel/drivers/net/net_failover.ko kernel/drivers/virtio/virtio.ko",
  "kernel/fs/overlayfs/overlay.ko.zst:",
  "",
].join("\n");

t.test("dependencies come first, each module once, in load order", async (t) => {
  const dir = fakeModules(t, dep);
  const got = resolveModules(dir, ["virtio-net", "virtio", "overlay"]).map((p) => p.slice(dir.length + 1));
  t.same(got, [
    "kernel/net/core/failover.ko",
    "kernel/drivers/net/net_failover.ko",
    "kernel/drivers/virtio/virtio_ring.ko",
    "kernel/drivers/virtio/virtio.ko",
    "kernel/drivers/net/virtio_net.ko.xz",
    "kernel/fs/overlayfs/overlay.ko.zst",
  ]);
});

t.test("builtin modules need no file; unknown ones are named", async (t) => {
  const dir = fakeModules(t, dep, "kernel/fs/ext4/ext4.ko\n");
  t.same(resolveModules(dir, ["ext4"]), []);
  t.throws(() => resolveModules(dir, ["nosuch"]), /unknown kernel module nosuch: not in .*modules\.dep/);
  const broken = fakeModules(t, "kernel/a.ko: kernel/gone.ko\n");
  t.throws(() => resolveModules(broken, ["a"]), /unknown kernel module gone \(needed by a\)/);
  t.throws(() => resolveModules(scratch(t), ["a"]), /modules\.dep is missing: fetch the kernel/);
});

t.test("a dependency cycle is reported, not looped on", async (t) => {
  const dir = fakeModules(t, "kernel/a.ko: kernel/b.ko\nkernel/b.ko: kernel/a.ko\n");
  t.throws(() => resolveModules(dir, ["a"]), /cycle: a -> b -> a/);
});

t.test("module names: suffixes dropped, dashes as underscores", async (t) => {
  t.equal(moduleName("kernel/drivers/net/virtio-net.ko.zst"), "virtio_net");
  t.equal(moduleName("nf-conntrack"), "nf_conntrack");
});

/** A minimal ELF64 LE relocatable object with a .modinfo section holding `info`. */
function fakeModule(info: string[]): Buffer {
  const modinfoData = Buffer.from(`${info.join("\0")}\0`);
  const shstr = Buffer.from("\0.modinfo\0.shstrtab\0");
  const dataOff = 64;
  const strOff = dataOff + modinfoData.length;
  const shoff = strOff + shstr.length;
  const ehdr = Buffer.alloc(64);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(ehdr);
  ehdr.writeBigUInt64LE(BigInt(shoff), 0x28);
  ehdr.writeUInt16LE(64, 0x3a);
  ehdr.writeUInt16LE(3, 0x3c);
  ehdr.writeUInt16LE(2, 0x3e);
  const section = (name: number, off: number, size: number) => {
    const s = Buffer.alloc(64);
    s.writeUInt32LE(name, 0);
    s.writeBigUInt64LE(BigInt(off), 0x18);
    s.writeBigUInt64LE(BigInt(size), 0x20);
    return s;
  };
  return Buffer.concat([ehdr, modinfoData, shstr, section(0, 0, 0), section(1, dataOff, modinfoData.length), section(10, strOff, shstr.length)]);
}

t.test("modules.dep is written from each module's depends=", async (t) => {
  const dir = scratch(t);
  const put = (rel: string, info: string[]) => {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), fakeModule(info));
  };
  put("kernel/lib/crc16.ko", ["license=GPL", "depends=", "name=crc16"]);
  put("kernel/fs/ext4/ext4.ko", ["depends=crc16,mbcache", "name=ext4"]);
  put("kernel/fs/mbcache.ko", ["depends=", "name=mbcache"]);
  t.equal(modinfo(join(dir, "kernel/fs/ext4/ext4.ko")).get("depends"), "crc16,mbcache");
  writeModulesDep(dir);
  t.same(resolveModules(dir, ["ext4"]).map((p) => p.slice(dir.length + 1)), ["kernel/lib/crc16.ko", "kernel/fs/mbcache.ko", "kernel/fs/ext4/ext4.ko"]);
  put("kernel/bad.ko", ["depends=gone"]);
  t.throws(() => writeModulesDep(dir), /kernel\/bad\.ko depends on gone, which is not in the package/);
  writeFileSync(join(dir, "kernel/notelf.ko"), "hello");
  t.throws(() => modinfo(join(dir, "kernel/notelf.ko")), /not a 64-bit little-endian ELF module/);
});
