// Stage 1 on metal: the initramfs's /init, run by the kernel as PID 1 (node
// with this bundle; see metal-root.ts for what it does). PID 1 must not exit:
// on any failure it prints why on the console, waits so the message can be
// read, and reboots (the kernel's panic= would otherwise hang or loop silently).
import { createLibcSys } from "../sys/libc.js";
import { RB } from "../sys/sys.js";
import { describeError, stage1Metal } from "./metal-root.js";
import { uptimeStamp } from "./uptime.js";

const rebootDelayMs = 5000;

function log(line: string): void {
  process.stdout.write(`${uptimeStamp()}${line}\n`);
}

function main(): void {
  const sys = createLibcSys();
  log("stage1: node is up");
  try {
    stage1Metal({ sys, log, env: process.env });
  } catch (err) {
    log(`stage1: fatal: ${describeError(err)}; rebooting in ${rebootDelayMs / 1000} s`);
    setTimeout(() => {
      sys.sync();
      sys.reboot(RB.AUTOBOOT);
    }, rebootDelayMs);
  }
}

main();
