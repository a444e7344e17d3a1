// machine.kubelet.extraMounts: the mount(2) calls each entry becomes, the
// options validation refuses, and the mounts made for real in a private
// mount namespace (as root), once each.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { parseConfig } from "../../../src/config/parse.js";
import { mountCalls } from "../../../src/machined/services/kubelet-mounts.js";
import { MS } from "../../../src/sys/sys.js";
import { worker } from "../../config/fixtures.js";

t.test("a bind mount's flags come in a remount, its propagation in a call of its own", async (t) => {
  t.same(mountCalls({ source: "/var/a", destination: "/var/b", options: ["rbind", "ro", "rshared"] }), [
    { source: "/var/a", target: "/var/b", fstype: null, flags: MS.BIND | MS.REC },
    { source: "/var/a", target: "/var/b", fstype: null, flags: MS.BIND | MS.REMOUNT | MS.RDONLY },
    { source: "none", target: "/var/b", fstype: null, flags: MS.SHARED | MS.REC },
  ]);
  t.same(mountCalls({ source: "/var/a", destination: "/var/b" }), [{ source: "/var/a", target: "/var/b", fstype: null, flags: MS.BIND }], "bind by default");
  t.same(mountCalls({ source: "tmpfs", destination: "/var/t", type: "tmpfs", options: ["size=1m", "noexec"] }), [
    { source: "tmpfs", target: "/var/t", fstype: "tmpfs", flags: MS.NOEXEC, data: "size=1m" },
  ]);
});

t.test("options a mount cannot take and destinations on the read-only root are refused", async (t) => {
  const errors = (mount: Record<string, unknown>) => {
    const r = parseConfig(worker({ kubelet: { extraMounts: [mount] } }));
    return "errors" in r ? r.errors : [];
  };
  t.match(errors({ source: "/var/a", destination: "/var/b", options: ["size=1m"] }), [/^machine\.kubelet\.extraMounts\[0\]\.options: "size=1m": not an option of a bind mount; expected ro, rw/]);
  t.match(errors({ source: "/var/a", destination: "/var/b", options: ["ro", "rw"] }), [/options: ro and rw together: give one/]);
  t.match(errors({ source: "/var/a", destination: "/usr/lib/x" }), [/^machine\.kubelet\.extraMounts\[0\]\.destination: "\/usr\/lib\/x" is on the read-only root/]);
  t.match(errors({ source: "data", destination: "/var/b" }), [/source: a bind mount's source must be an absolute, normalised host path/]);
  t.same(errors({ source: "tmpfs", destination: "/var/t", type: "tmpfs", options: ["size=1m", "rshared"] }), []);
});

t.test("made for real: rbind read-only and rshared, a tmpfs with its options, each once", { skip: process.getuid?.() === 0 ? false : "needs root (mount namespaces)" }, async (t) => {
  const dir = mkdtempSync("/var/tmp/kiln-mounts-");
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fixture = join(import.meta.dirname, "../../fixtures/services/kubelet-mounts-run.ts");
  const r = spawnSync("unshare", ["--mount", "--propagation", "private", process.execPath, "--import", "tsx", fixture, dir], { encoding: "utf8", timeout: 60_000 });
  t.equal(r.status, 0, r.stderr);
  const lines = JSON.parse(r.stdout) as string[];
  const bound = lines.filter((l) => l.split(" ")[4] === `${dir}/bound`);
  const scratch = lines.filter((l) => l.split(" ")[4] === `${dir}/scratch`);
  t.equal(bound.length, 1, "bound once");
  t.equal(scratch.length, 1, "tmpfs once");
  t.match(bound[0], / ro[, ]/, "read-only");
  t.match(bound[0], / shared:\d+/, "shared propagation");
  t.match(scratch[0], / - tmpfs tmpfs .*size=1024k/, "a tmpfs of 1 MiB");
  t.match(scratch[0], /mode=700/);
  t.match(scratch[0], /nosuid/);
});
