// SLOW, NETWORK: downloads Debian's real kernel package (~70 MB) with apt
// into a scratch cache, unpacks it and resolves the modules kiln boots with.
// Needs apt-get and dpkg-deb (a Debian host), and root when apt has no package
// lists; skipped elsewhere, failed on CI. On a slow network give tap more
// time than its 30 s default: npx tap --timeout=600 test/image/kernel-fetch.test.ts
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { fetchKernel } from "../../src/image/kernel.js";
import { resolveModules } from "../../src/machinery/modules-dep.js";

/** Whether `cmd` is on PATH. */
function has(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

t.test("fetches linux-image-amd64, unpacks it, reuses it, resolves modules", { timeout: 600_000 }, async (t) => {
  if (!has("apt-get") || !has("dpkg-deb")) {
    const msg = "needs apt-get and dpkg-deb (a Debian host)";
    if (process.env.CI === "true") t.fail(msg);
    else t.plan(0, msg);
    return;
  }
  const cacheDir = mkdtempSync(join(tmpdir(), "kiln-kernel-cache-"));
  t.teardown(() => rmSync(cacheDir, { recursive: true, force: true }));
  const k = fetchKernel({ cacheDir });
  t.match(k.version, /^\d+\.\d+\.\d+-\d+-amd64$/);
  t.equal(k.package, `linux-image-${k.version}`);
  t.equal(readFileSync(k.vmlinuz).subarray(0x202, 0x206).toString(), "HdrS", "vmlinuz is a bzImage");
  t.ok(existsSync(join(k.modulesDir, "modules.dep")));
  t.equal(fetchKernel({ cacheDir }).cached, true, "the second fetch reuses the unpacked release");
  const mods = resolveModules(k.modulesDir, ["virtio_net", "squashfs", "overlay", "loop", "br_netfilter", "qemu_fw_cfg"]);
  const names = mods.map((m) => m.slice(m.lastIndexOf("/") + 1));
  t.ok(names.indexOf("bridge.ko") < names.indexOf("br_netfilter.ko"), "bridge loads before br_netfilter");
  t.ok(names.indexOf("virtio.ko") < names.indexOf("virtio_net.ko"), "virtio loads before virtio_net");
  for (const m of mods) t.ok(existsSync(m), `${m} exists`);
});
