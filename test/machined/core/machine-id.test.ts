// The machine id: kept on STATE; without a stored one, derived from the DMI
// product UUID, else the first physical link's MAC, else random; written to
// /etc/machine-id. Roots are temp dirs with a fake /sys.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { firstLinkMac, physicalLinks, productUuid } from "../../../src/machined/hardware-ids.js";
import { loadIdentity } from "../../../src/machined/machine-id.js";

/** The machine id alone, as machined loads it. */
const loadMachineId = (state: string, root: string) => loadIdentity(state, root).machineId;
import { fakeLinks, fakeProductUuid, sandboxLinks, vmLinks } from "../fake-sysfs.js";
import { type Teardown, tempDir } from "../helpers.js";

/** A machine root with /etc and a fake /sys, and its STATE directory (empty, as a tmpfs at boot). */
function machine(t: Teardown): { root: string; state: string } {
  const root = tempDir(t);
  mkdirSync(join(root, "etc"));
  return { root, state: join(root, "system/state") };
}

const uuid = "4C4C4544-0042-3510-8051-B3C04F4A4E32";

t.test("makes a 32 hex digit id on first boot and keeps it", async (t) => {
  const { root, state } = machine(t);
  const id = loadMachineId(state, root);
  t.match(id, /^[0-9a-f]{32}$/);
  t.equal(loadMachineId(state, root), id);
  t.equal(readFileSync(join(state, "machine-id"), "utf8"), `${id}\n`);
  t.equal(statSync(join(state, "machine-id")).mode & 0o777, 0o644);
  t.same(readdirSync(state), ["machine-id"], "no temp file left");
});

t.test("writes /etc/machine-id as 32 lowercase hex digits and a newline", async (t) => {
  const { root, state } = machine(t);
  const id = loadMachineId(state, root);
  t.equal(readFileSync(join(root, "etc/machine-id"), "utf8"), `${id}\n`);
  t.equal(statSync(join(root, "etc/machine-id")).mode & 0o777, 0o444);
  t.same(readdirSync(join(root, "etc")), ["machine-id"], "no temp file left");
});

t.test("gives two machines without hardware ids different ids", async (t) => {
  const [a, b] = [machine(t), machine(t)];
  t.not(loadMachineId(a.state, a.root), loadMachineId(b.state, b.root));
});

t.test("takes the DMI product UUID, in lowercase without dashes, so a diskless machine keeps it", async (t) => {
  const { root, state } = machine(t);
  fakeProductUuid(root, uuid);
  fakeLinks(root, vmLinks);
  t.equal(loadMachineId(state, root), "4c4c4544004235108051b3c04f4a4e32");
  const reboot = machine(t);
  fakeProductUuid(reboot.root, uuid);
  t.equal(loadMachineId(reboot.state, reboot.root), "4c4c4544004235108051b3c04f4a4e32", "the same after a reboot with an empty STATE");
});

t.test("derives the id from the first physical link's MAC when there is no product UUID", async (t) => {
  const [a, b] = [machine(t), machine(t)];
  fakeLinks(a.root, vmLinks);
  fakeLinks(b.root, vmLinks);
  fakeProductUuid(b.root, "00000000-0000-0000-0000-000000000000");
  const id = loadMachineId(a.state, a.root);
  t.match(id, /^[0-9a-f]{32}$/);
  t.equal(loadMachineId(b.state, b.root), id, "the same MAC, the same id; an all-zero UUID is no UUID");
  const other = machine(t);
  fakeLinks(other.root, [{ name: "eth0", mac: "52:54:00:00:00:01", ifindex: 2, device: true }]);
  t.not(loadMachineId(other.state, other.root), id, "another MAC, another id");
});

t.test("keeps the id on STATE over what the hardware says", async (t) => {
  const { root, state } = machine(t);
  mkdirSync(state, { recursive: true });
  writeFileSync(join(state, "machine-id"), "  00112233445566778899aabbccddeeff \n");
  fakeProductUuid(root, uuid);
  t.equal(loadMachineId(state, root), "00112233445566778899aabbccddeeff");
  t.equal(readFileSync(join(root, "etc/machine-id"), "utf8"), "00112233445566778899aabbccddeeff\n");
});

t.test("replaces a stored id that is not 32 lowercase hex digits", async (t) => {
  for (const bad of ["", "xyz", "00112233445566778899AABBCCDDEEFF", "00112233445566778899aabbccddeeff00"]) {
    const { root, state } = machine(t);
    mkdirSync(state, { recursive: true });
    writeFileSync(join(state, "machine-id"), bad);
    const id = loadMachineId(state, root);
    t.match(id, /^[0-9a-f]{32}$/, JSON.stringify(bad));
    t.not(id, bad.trim());
    t.equal(readFileSync(join(state, "machine-id"), "utf8"), `${id}\n`);
  }
});

t.test("reads only links with a device, lowest ifindex first", async (t) => {
  const { root } = machine(t);
  fakeLinks(root, vmLinks);
  t.same(physicalLinks(root).map((l) => l.name), ["ens3", "eth1"]);
  t.equal(firstLinkMac(root), "525400123456");
  const sandbox = machine(t);
  fakeLinks(sandbox.root, sandboxLinks);
  t.equal(firstLinkMac(sandbox.root), undefined, "veths and lo have no device");
  t.equal(firstLinkMac(join(root, "nowhere")), undefined, "no /sys at all");
});

t.test("ignores a product UUID that is missing or a placeholder", async (t) => {
  const { root } = machine(t);
  t.equal(productUuid(root), undefined);
  for (const placeholder of ["FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", "Not Settable", ""]) {
    fakeProductUuid(root, placeholder);
    t.equal(productUuid(root), undefined, JSON.stringify(placeholder));
  }
});

t.test("names a machine after its first physical link's MAC, the same at every boot", async (t) => {
  const [a, b] = [machine(t), machine(t)];
  fakeLinks(a.root, vmLinks);
  fakeLinks(b.root, vmLinks);
  t.equal(loadIdentity(a.state, a.root).defaultHostname, "kiln-525400123456");
  t.equal(loadIdentity(b.state, b.root).defaultHostname, "kiln-525400123456", "a second boot of the same VM, STATE empty again");
});

t.test("names a machine without a physical link after its machine id (the sandbox)", async (t) => {
  const { root, state } = machine(t);
  fakeLinks(root, sandboxLinks);
  const { machineId, defaultHostname } = loadIdentity(state, root);
  t.equal(defaultHostname, `kiln-${machineId.slice(0, 6)}`);
});
