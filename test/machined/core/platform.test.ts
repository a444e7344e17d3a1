// Which platform machined runs on and which sysctls it may write there.
import t from "tap";
import { detectPlatform, modulesAllowed, sysctlAllowed } from "../../../src/machined/platform.js";

t.test("allows on the sandbox only the sysctls of namespaces it owns", async (t) => {
  const table: [string, boolean][] = [
    ["net.ipv4.ip_forward", true],
    ["net.ipv6.conf.all.forwarding", true],
    ["net.core.somaxconn", true],
    ["kernel.hostname", true],
    ["kernel.domainname", true],
    ["kernel.shmmax", true],
    ["kernel.shm_rmid_forced", true],
    ["kernel.msgmnb", true],
    ["kernel.sem", true],
    ["fs.mqueue.msg_max", true],
    ["vm.swappiness", false],
    ["vm.overcommit_memory", false],
    ["kernel.pid_max", false],
    ["kernel.panic", false],
    ["kernel.hostname_extra", false],
    ["kernel.domainname.x", false],
    ["fs.file-max", false],
    ["fs.inotify.max_user_watches", false],
    ["network.x", false],
    ["xnet.ipv4.ip_forward", false],
  ];
  for (const [key, allowed] of table) t.equal(sysctlAllowed("sandbox", key), allowed, key);
});

t.test("allows every sysctl on metal", async (t) => {
  for (const key of ["vm.swappiness", "kernel.pid_max", "net.ipv4.ip_forward", "fs.file-max"]) t.equal(sysctlAllowed("metal", key), true, key);
});

t.test("loads kernel modules only on metal", async (t) => {
  t.equal(modulesAllowed("metal"), true);
  t.equal(modulesAllowed("sandbox"), false);
});

t.test("reads the platform from KILN_PLATFORM, defaulting to metal", async (t) => {
  t.equal(detectPlatform({ KILN_PLATFORM: "sandbox" }), "sandbox");
  t.equal(detectPlatform({ KILN_PLATFORM: "metal" }), "metal");
  t.equal(detectPlatform({ KILN_PLATFORM: "qemu" }), "metal");
  t.equal(detectPlatform({}), "metal");
});
