import t from "tap";
import { diffConfig } from "../../src/config/diff.js";
import { exampleConfigYaml } from "../../src/config/example.js";
import type { MachineConfig } from "../../src/config/schema.js";
import { configOf, service, worker } from "./fixtures.js";

const example = configOf(exampleConfigYaml);

/** The example with `edit` applied to a deep copy. */
function edited(edit: (c: MachineConfig) => void): MachineConfig {
  const copy = structuredClone(example);
  edit(copy);
  return copy;
}

t.test("finds no changes between equal configs", async (t) => {
  t.strictSame(diffConfig(example, structuredClone(example)), { changes: [], needsReboot: [] });
});

t.test("applies a hostname change live", async (t) => {
  const next = edited((c) => {
    c.machine.hostname = "cp-2";
  });
  t.strictSame(diffConfig(example, next), { changes: ["machine.hostname"], needsReboot: [] });
});

t.test("names sysctls, env and kubelet args by their key", async (t) => {
  const next = edited((c) => {
    c.machine.sysctls = { "net.ipv4.ip_forward": "0", "vm.swappiness": "10" };
    c.machine.env = { ...c.machine.env, LANG: "C.UTF-8" };
    c.machine.kubelet!.extraArgs = { "max-pods": "200", "rotate-server-certificates": "true" };
  });
  t.strictSame(diffConfig(example, next).changes, [
    `machine.sysctls["net.ipv4.ip_forward"]`,
    `machine.sysctls["vm.swappiness"]`,
    `machine.sysctls["vm.overcommit_memory"]`,
    "machine.env.LANG",
    `machine.kubelet.extraArgs["max-pods"]`,
  ]);
  t.strictSame(diffConfig(example, next).needsReboot, []);
});

t.test("names files by path and services by id, ignoring their order", async (t) => {
  const next = edited((c) => {
    c.machine.files = [...c.machine.files!].reverse();
    c.machine.files[0]!.content = "changed";
    c.machine.services = [c.machine.services![1]!, { ...c.machine.services![0]!, stopGraceMs: 1 }];
  });
  t.strictSame(diffConfig(example, next), {
    changes: ["machine.files[/var/lib/web/index.html]", "machine.services[web]"],
    needsReboot: [],
  });
});

t.test("reports added and removed list entries", async (t) => {
  const before = configOf(worker({ services: [service("a"), service("b")] }));
  const after = configOf(worker({ services: [service("b"), service("c")] }));
  t.strictSame(diffConfig(before, after).changes, ["machine.services[c]", "machine.services[a]"]);
});

t.test("needs a reboot for install, CA, SANs, kernel modules and cluster changes", async (t) => {
  const next = edited((c) => {
    c.machine.type = "worker";
    c.machine.install = { disk: "/dev/vda", wipe: true };
    c.machine.ca = { crt: c.cluster!.ca!.crt };
    c.machine.token = "zzzzzz.0123456789abcdef";
    c.machine.certSANs = ["cp-1.example.com"];
    c.machine.kernel!.modules = [{ name: "br_netfilter" }];
    c.cluster!.controlPlane = { endpoint: "https://10.0.0.11:6443" };
    c.machine.time = { servers: ["pool.ntp.org"] };
  });
  const diff = diffConfig(example, next);
  t.strictSame(diff.changes, [
    "machine.type",
    "machine.kernel.modules[loop]",
    "machine.time.servers",
    "machine.install.disk",
    "machine.install.wipe",
    "machine.ca.crt",
    "machine.token",
    "machine.certSANs",
    "cluster.controlPlane.endpoint",
  ]);
  t.strictSame(diff.needsReboot, [
    "machine.type",
    "machine.kernel.modules[loop]",
    "machine.install.disk",
    "machine.install.wipe",
    "machine.ca.crt",
    "machine.token",
    "machine.certSANs",
    "cluster.controlPlane.endpoint",
  ]);
});

t.test("kubelet's extra mounts take effect at the next boot: a mount is not undone while the machine runs", async (t) => {
  const diff = diffConfig(example, edited((c) => (c.machine.kubelet!.extraMounts = [])));
  t.strictSame(diff.changes, ["machine.kubelet.extraMounts[/var/lib/local-storage]"]);
  t.strictSame(diff.needsReboot, ["machine.kubelet.extraMounts[/var/lib/local-storage]"]);
});

t.test("applies extra host entries live, keyed by address", async (t) => {
  const before = configOf(worker({ network: { extraHostEntries: [{ ip: "10.0.0.5", aliases: ["a"] }, { ip: "10.0.0.6", aliases: ["b"] }] } }));
  const after = configOf(worker({ network: { extraHostEntries: [{ ip: "10.0.0.6", aliases: ["b"] }, { ip: "10.0.0.5", aliases: ["a", "a2"] }] } }));
  t.strictSame(diffConfig(before, after), { changes: ["machine.network.extraHostEntries[10.0.0.5]"], needsReboot: [] });
});

t.test("treats a first config as changing every section it sets", async (t) => {
  const first = configOf(worker({ hostname: "w-1", sysctls: { "vm.swappiness": "1" } }));
  // A first config's needsReboot is not acted on (apply-config.ts): its services start from it.
  t.strictSame(diffConfig(undefined, first), {
    changes: ["machine.type", "machine.hostname", `machine.sysctls["vm.swappiness"]`],
    needsReboot: ["machine.type"],
  });
});

t.test("reports a section that was removed", async (t) => {
  const next = edited((c) => {
    delete c.machine.network;
    delete c.cluster;
  });
  const diff = diffConfig(example, next);
  t.strictSame(diff.changes.slice(0, 3), [
    "machine.network.nameservers",
    "machine.network.extraHostEntries[10.0.0.20]",
    "machine.network.interfaces[eth0]",
  ]);
  t.ok(diff.needsReboot.includes("cluster.token"));
  t.notOk(diff.needsReboot.includes("cluster.name"), "cluster.name is read when a client config is made");
  t.notOk(diff.needsReboot.some((p) => p.startsWith("machine.network")));
});
