// boot/disks: on metal, STATE and EPHEMERAL mounted from the disk's named
// partitions, the boot slots read, and the upgrader made for them (none
// without slots). Nothing on the sandbox, whose /sys is the host's.
import { extractBundle } from "../../../machinery/upgrade-bundle.js";
import { mountDisks, namedPartitions } from "../../disks.js";
import { prepareKexec } from "../../kexec.js";
import { readSlots } from "../../slots.js";
import { espGrubenv } from "../../upgrade/grubenv-file.js";
import { writeSlot } from "../../upgrade/slot-writer.js";
import { createUpgrader } from "../../upgrade/upgrade.js";
import { createUploads } from "../../upgrade/uploads.js";
import { kilnVersion } from "../../version.js";
import type { BootEnv } from "./boot-env.js";

/** Upgrade bundles on their way in, on EPHEMERAL. */
const UPLOAD_DIR = "/var/lib/kiln/upgrade";

export function mountDisksTask(b: BootEnv): void {
  if (b.platform !== "metal") return;
  const { sys, log } = b;
  const partitions = namedPartitions();
  const disks = mountDisks({ sys, log, partitions });
  b.state.partitions = partitions;
  if (!partitions.length) return;
  const slots = readSlots({ sys, partitions, log });
  b.state.slots = slots;
  if (!slots.slot) return;
  log(`booted slot ${slots.slot} (${slots.bootMode || "committed"}); slots: ${slots.slots.map((s) => `${s.name}=${s.version || "empty"}`).join(", ")}`);
  const ephemeral = disks.some((r) => r.label === "EPHEMERAL" && r.outcome !== "absent" && r.outcome !== "failed");
  b.state.upgrader = createUpgrader({
    log,
    events: b.events,
    stateDir: b.state.ctx.paths.state,
    uploads: ephemeral ? createUploads(UPLOAD_DIR) : undefined,
    partitions,
    slots,
    runningVersion: kilnVersion,
    services: () => b.state.supervisor.status(),
    grubenv: espGrubenv({ sys, partitions, log }),
    extract: (tar, dir) => extractBundle(tar, dir),
    writeSlot: (device, label, bundle) => writeSlot({ sys, log }, device, label, bundle),
    prepareKexec: (target) => prepareKexec({ sys, log, partitions }, target),
    requestReboot: (why) => b.requestReboot(why),
  });
}
