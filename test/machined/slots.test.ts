// Boot slots: kiln.slot/kiln.boot from the command line, and each BOOT
// partition's version read from its manifest.json (mounted read-only).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { readSlots, slotFromCmdline } from "../../src/machined/slots.js";
import { createFakeSys } from "../../src/sys/fake.js";
import { scratchDir } from "../fixtures/scratch.js";

t.test("slotFromCmdline", async (t) => {
  t.same(slotFromCmdline("console=ttyS0 panic=10 quiet kiln.slot=B kiln.boot=trial"), { slot: "B", bootMode: "trial" });
  t.same(slotFromCmdline("console=ttyS0 kiln.slot=A kiln.boot=committed\n"), { slot: "A", bootMode: "committed" });
  t.same(slotFromCmdline("console=ttyS0 quiet"), { slot: "", bootMode: "" }, "direct kernel boot: no slot");
  t.same(slotFromCmdline("xkiln.slot=A kiln.slot=Z"), { slot: "", bootMode: "" }, "only A or B, whole words");
});

t.test("readSlots mounts each BOOT partition read-only and reads its version", async (t) => {
  const sys = createFakeSys();
  const dirs: string[] = [];
  // The fake mount does nothing: stand in for the mounted slot by writing its manifest into the directory.
  const scratch = () => {
    const d = scratchDir("kiln-slot-");
    if (dirs.length === 0) writeFileSync(join(d, "manifest.json"), JSON.stringify({ kiln: "0.1.0" }));
    else mkdirSync(join(d, "empty"));
    dirs.push(d);
    return d;
  };
  const info = readSlots({
    sys,
    log: () => {},
    scratch,
    cmdline: "console=ttyS0 kiln.slot=A kiln.boot=committed",
    partitions: [
      { name: "vda3", device: "/dev/vda3", label: "BOOT-A" },
      { name: "vda4", device: "/dev/vda4", label: "BOOT-B" },
      { name: "vda5", device: "/dev/vda5", label: "STATE" },
    ],
  });
  t.same(info, { slot: "A", bootMode: "committed", slots: [{ name: "A", version: "0.1.0", active: true }, { name: "B", version: "", active: false }] });
  const mounts = sys.calls.filter((c) => c.name === "mount").map((c) => [c.args[0], c.args[2]]);
  t.same(mounts, [["/dev/vda3", "ext4"], ["/dev/vda4", "ext4"]]);
  t.equal(sys.calls.filter((c) => c.name === "umount2").length, 2, "each slot unmounted again");
});
