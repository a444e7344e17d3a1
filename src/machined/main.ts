// machined: PID 1 of a kiln machine. main() reads as a table of contents:
// early mounts, the open-file limit, the reaper, signals, then the boot
// sequence; everything that changes the machine after that is a sequence
// under one lock.
import { codeCacheState } from "../machinery/code-cache-state.js";
import { describeFdLimit, raiseFdLimit, readNrOpen } from "../init/fd-limit.js";
import { mountAll, mountTable } from "../init/mounts.js";
import { becomeSubreaper, startReaper } from "../init/reaper.js";
import { bootModulesFromStage1 } from "../init/handoff.js";
import { summarizeModules } from "../init/modules.js";
import { disableCtrlAltDel, installSignalHandlers } from "../init/signals.js";
import { uptimeStamp } from "../init/uptime.js";
import { createLibcSys } from "../sys/libc.js";
import type { Sys } from "../sys/sys.js";
import { createMachined } from "./machined.js";
import { detectPlatform } from "./platform.js";
import { emergencyReboot } from "./power.js";
import { kilnVersion } from "./version.js";

const onMetal = detectPlatform() === "metal";

/** machined's console: stdout, one line per message; on metal stamped with the uptime, as the kernel's. */
function log(line: string): void {
  process.stdout.write(`${onMetal ? uptimeStamp() : ""}[machined] ${line}\n`);
}

/** Raises PID 1's open-file limit (services inherit it); a failure is logged, never fatal. */
function raiseOpenFiles(sys: Sys): void {
  try {
    log(describeFdLimit(raiseFdLimit(sys, readNrOpen())));
  } catch (err) {
    log(`open files limit not raised: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function main(): Promise<void> {
  const sys = createLibcSys();
  const platform = detectPlatform();
  const cache = codeCacheState();
  log(`kiln ${kilnVersion} starting on ${platform} as pid ${process.pid}${cache ? ` (code cache ${cache})` : ""}`);
  if (process.pid !== 1) becomeSubreaper(sys);
  mountAll(sys, mountTable(platform), log);
  raiseOpenFiles(sys);
  const reaper = startReaper({ sys, onError: (err) => log(`reaper: ${err.message}`) });
  const machined = createMachined({ sys, platform, log, reaper });
  machined.prespawnApid();
  installSignalHandlers({
    onShutdown: (why) => machined.request("poweroff", `signal: ${why}`),
    onReboot: (why) => machined.request("reboot", `signal: ${why}`),
    onFatal: (err) => emergencyReboot(sys, err, log),
    sigintMeansReboot: platform === "metal" && disableCtrlAltDel(sys),
    log,
  });
  // On metal stage 1 ran in this process and left the boot set loading (disks, NICs, filesystems): the boot needs it.
  const bootModules = bootModulesFromStage1();
  if (bootModules) log(summarizeModules("boot modules", await bootModules));
  await machined.boot();
}

main().catch((err: unknown) => {
  // PID 1 must never exit: a failed boot is fatal, so sync and reboot.
  emergencyReboot(createLibcSys(), err, log);
});
