// Stage 1 on metal: the initramfs's /init, run by the kernel as PID 1 (node
// with this bundle; see metal-root.ts for what it does). It then becomes
// machined in this same process: /sbin/init's loader runs here, with the
// environment and argv an exec would have given it. PID 1 must not exit: on
// any failure it prints why on the console, waits so the message can be
// read, and reboots (the kernel's panic= would otherwise hang or loop silently).
import { realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { createLibcSys } from "../sys/libc.js";
import { RB } from "../sys/sys.js";
import { loaderOnWorker, runModuleWorker } from "./boot-modules-worker.js";
import { handOverBootModules } from "./handoff.js";
import { describeError, type MetalHandoff, stage1Metal } from "./metal-root.js";
import { uptimeStamp } from "./uptime.js";

const rebootDelayMs = 5000;

function log(line: string): void {
  process.stdout.write(`${uptimeStamp()}${line}\n`);
}

/** Runs machined's loader here, as an exec of /sbin/init would have: its environment, its argv. */
function becomeMachined(h: MetalHandoff): void {
  for (const name of Object.keys(process.env)) delete process.env[name];
  for (const pair of h.env) {
    const eq = pair.indexOf("=");
    process.env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const loader = realpathSync(h.init);
  process.argv = [process.execPath, h.init];
  handOverBootModules(h.bootModules);
  createRequire(loader)(loader);
}

function main(): void {
  const sys = createLibcSys();
  log("stage1: node is up");
  try {
    const handoff = stage1Metal({ sys, log, env: process.env, bootModuleLoader: () => loaderOnWorker(sys, __filename) });
    try {
      becomeMachined(handoff);
    } catch (cause) {
      throw new Error(`running ${handoff.init}`, { cause });
    }
  } catch (err) {
    log(`stage1: fatal: ${describeError(err)}; rebooting in ${rebootDelayMs / 1000} s`);
    setTimeout(() => {
      sys.sync();
      sys.reboot(RB.AUTOBOOT);
    }, rebootDelayMs);
  }
}

if (!runModuleWorker()) main();
