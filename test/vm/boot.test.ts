// A kiln VM booted with a config (by fw_cfg): mTLS API, containerd healthy,
// read-only root, a hostname from the NIC's MAC (the config names none),
// /etc/machine-id, sysctls, files and kernel modules applied, an address by
// DHCP, dmesg and logs, machined and apid compiled from their code caches;
// then a reboot of the diskless VM comes back with the same config, hostname
// and machine id, and a shutdown powers QEMU off by itself.
import t from "tap";
import { alive, BOOT_TIMEOUT_MS, type Cluster, consoleOf, createVm, destroyVm, genCluster, on, onJson, skip, testImage, type Vm, waitFor } from "./vm-helpers.js";

const name = "vm-boot";
const list = <T>(x: T | T[]): T[] => (Array.isArray(x) ? x : [x]);

t.test("boot with a config, reboot, shutdown", { skip, timeout: 3 * BOOT_TIMEOUT_MS }, async (t) => {
  const image = testImage();
  const cluster: Cluster = genCluster(name, (m) => {
    m.sysctls = { "net.ipv4.ip_forward": "1", "vm.swappiness": "13" };
    m.files = [{ path: "/var/lib/kiln-test/hello.txt", content: "hello from the config\n", permissions: "0640" }];
    m.kernel = { modules: [{ name: "dummy", parameters: ["numdummies=2"] }] };
  });
  t.teardown(() => void destroyVm(name));
  const vm: Vm = createVm(name, image, ["--config", cluster.worker]);
  t.match(vm.endpoint, /^127\.0\.0\.1:\d+$/, "apid forwarded to the host's loopback");

  const version = list(onJson<{ platform: string; maintenance: boolean; tag: string }>(vm, cluster, ["version"]))[0]!;
  t.equal(version.platform, "metal", "machined runs on a real kernel");
  t.equal(version.maintenance, false, "configured, over mTLS");

  const containerd = await waitFor(
    "containerd healthy",
    () => onJson<{ id: string; state: string; healthy: boolean | null }[]>(vm, cluster, ["services"]).find((s) => s.id === "containerd" && s.healthy === true),
    120_000,
  );
  t.equal(containerd.state, "Running", "containerd runs and is healthy");

  const mounts = list(onJson<{ target: string; fstype: string; options: string }[]>(vm, cluster, ["mounts"]));
  const rootMount = mounts.filter((m) => m.target === "/").at(-1);
  t.equal(rootMount?.fstype, "squashfs", "/ is the squashfs image");
  t.match(rootMount?.options ?? "", /(^|,)ro(,|$)/, "/ is read-only");

  const mac = on(vm, cluster, ["read", "/sys/class/net/eth0/address"]).stdout.trim();
  const hostname = onJson<{ hostname: string }>(vm, cluster, ["hostname"]).hostname;
  t.equal(hostname, `kiln-${mac.replaceAll(":", "")}`, `hostname from eth0's MAC ${mac}, as the config names none`);
  const machineId = on(vm, cluster, ["read", "/etc/machine-id"]).stdout;
  t.match(machineId, /^[0-9a-f]{32}\n$/, "/etc/machine-id: 32 lowercase hex digits and a newline");
  t.equal(on(vm, cluster, ["read", "/proc/sys/vm/swappiness"]).stdout.trim(), "13", "sysctl applied");
  t.equal(on(vm, cluster, ["read", "/proc/sys/net/ipv4/ip_forward"]).stdout.trim(), "1", "sysctl applied");
  t.equal(on(vm, cluster, ["read", "/var/lib/kiln-test/hello.txt"]).stdout, "hello from the config\n", "file written");
  t.match(on(vm, cluster, ["read", "/proc/modules"]).stdout, /^dummy /m, "kernel module from the config loaded");
  t.match(on(vm, cluster, ["read", "/proc/modules"]).stdout, /^br_netfilter /m, "runtime modules loaded");
  const links = list(onJson<{ name: string }[]>(vm, cluster, ["get", "links"])).map((l) => l.name);
  t.ok(links.includes("dummy0") && links.includes("dummy1"), `module parameters applied (numdummies=2): ${links.join(",")}`);

  const addresses = list(onJson<{ link: string; address: string }[]>(vm, cluster, ["get", "addresses"]));
  t.ok(addresses.some((a) => a.address === "10.0.2.15" && a.link === "eth0"), "eth0 has QEMU's DHCP address");
  t.match(on(vm, cluster, ["read", "/etc/resolv.conf"]).stdout, /nameserver 10\.0\.2\.3/, "nameserver from DHCP");

  const dmesg = on(vm, cluster, ["dmesg"]);
  t.equal(dmesg.code, 0, "dmesg answers");
  t.match(dmesg.stdout, /Linux version 6\./, "dmesg is the VM's kernel log");
  // The image's programs compile from the V8 code caches the builder made (src/image/code-cache.ts).
  t.match(consoleOf(vm), /\[machined\] kiln \S+ starting on metal as pid 1 \(code cache accepted\)/, "machined compiled from its code cache");
  t.match(on(vm, cluster, ["logs", "apid"]).stdout, /serving mTLS .*, code cache accepted/, "apid compiled from its code cache");
  const logs = on(vm, cluster, ["logs", "containerd"]);
  t.equal(logs.code, 0, "logs answers");
  t.match(logs.stdout, /containerd/, "containerd's log");

  // reboot: back with the same config (fw_cfg again), a new boot id
  const bootId = on(vm, cluster, ["read", "/proc/sys/kernel/random/boot_id"]).stdout.trim();
  t.equal(on(vm, cluster, ["reboot"]).code, 0, "reboot accepted");
  await waitFor("the machine to go down", () => on(vm, cluster, ["read", "/proc/sys/kernel/random/boot_id"]).stdout.trim() !== bootId, 60_000);
  const newId = await waitFor(
    "the machine back after the reboot",
    () => {
      const id = on(vm, cluster, ["read", "/proc/sys/kernel/random/boot_id"]).stdout.trim();
      return id && id !== bootId ? id : undefined;
    },
    BOOT_TIMEOUT_MS,
    2000,
  );
  t.not(newId, bootId, "a new boot");
  t.ok(alive(vm.pid), "the same QEMU process: a reboot, not a new VM");
  t.equal(onJson<{ hostname: string }>(vm, cluster, ["hostname"]).hostname, hostname, "the same hostname after the reboot, without a disk");
  t.equal(on(vm, cluster, ["read", "/etc/machine-id"]).stdout, machineId, "the same machine id after the reboot, without a disk");
  t.equal(on(vm, cluster, ["read", "/proc/sys/vm/swappiness"]).stdout.trim(), "13", "the same config after the reboot");

  // shutdown: QEMU exits by itself (ACPI power off), no signal from us
  t.equal(on(vm, cluster, ["shutdown"]).code, 0, "shutdown accepted");
  await waitFor("QEMU to exit after the power off", () => !alive(vm.pid), 90_000);
  t.match(consoleOf(vm), /poweroff: calling reboot\(2\)/, "machined powered off");
});
