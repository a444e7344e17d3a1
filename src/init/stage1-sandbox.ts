// Stage 1 of the sandbox platform: run by the host's node as PID 1 of fresh
// namespaces (`unshare --pid --fork --mount --uts --ipc --net node
// stage1-sandbox.js ROOTFS_DIR PLATFORM_DIR`). It turns ROOTFS_DIR into a
// read-only root with the platform volume at /mnt, pivots into it and execs
// /sbin/init (machined). Unlike machined it may exit: on any failure it says
// why on stderr and exits 1, and the sandbox provisioner reports that.
import { resolve } from "node:path";
import { createLibcSys } from "../sys/libc.js";
import { describeError, stage1Sandbox } from "./sandbox-root.js";

/** The entry point: `stage1-sandbox ROOTFS_DIR PLATFORM_DIR`. */
function main(argv: string[]): void {
  const [rootfs, platformDir] = argv;
  if (!rootfs || !platformDir || argv.length !== 2) {
    process.stderr.write("usage: stage1-sandbox ROOTFS_DIR PLATFORM_DIR\n");
    process.exit(2);
  }
  try {
    stage1Sandbox({ sys: createLibcSys(), rootfs: resolve(rootfs), platformDir: resolve(platformDir), env: process.env });
  } catch (err) {
    process.stderr.write(`stage1-sandbox: ${describeError(err)}\n`);
    process.exit(1);
  }
}

main(process.argv.slice(2));
