// Console timestamps like the kernel's ("[   12.345] "): seconds since boot,
// so stage 1's and machined's lines sit in one timeline with dmesg. Linux's
// CLOCK_MONOTONIC (process.hrtime) counts from boot, and needs no /proc.

/** "[ssss.mmm] " for `ns` nanoseconds since boot (default: now). */
export function uptimeStamp(ns: bigint = process.hrtime.bigint()): string {
  return `[${(Number(ns / 1000n) / 1e6).toFixed(3).padStart(9)}] `;
}
