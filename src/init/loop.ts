// Loop devices: a file as a block device, so stage 1 can mount the squashfs
// image that rides in the initramfs. Read-only: the file is opened O_RDONLY,
// which makes the kernel mark the loop device read-only too.
import { closeSync, openSync } from "node:fs";
import { mountPoints } from "../machinery/paths.js";
import type { Sys } from "../sys/sys.js";

const LOOP_SET_FD = 0x4c00;
const LOOP_CTL_GET_FREE = 0x4c82;

/** Attaches `file` to a free loop device, read-only; returns its path (/dev/loopN). */
export function attachLoop(sys: Sys, file: string, dev: string = mountPoints.dev): string {
  const ctl = openSync(`${dev}/loop-control`, "r+");
  let index: number;
  try {
    index = sys.ioctl(ctl, LOOP_CTL_GET_FREE, 0);
  } finally {
    closeSync(ctl);
  }
  const path = `${dev}/loop${index}`;
  const backing = openSync(file, "r");
  try {
    const loop = openSync(path, "r");
    try {
      sys.ioctl(loop, LOOP_SET_FD, backing);
    } finally {
      closeSync(loop);
    }
  } finally {
    closeSync(backing); // the loop device holds its own reference
  }
  return path;
}
