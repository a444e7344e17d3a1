// Memory figures from /proc/meminfo, converted from kB to bytes.
import { readFile } from "node:fs/promises";

export interface MemoryInfo {
  total: number;
  free: number;
  available: number;
  buffers: number;
  cached: number;
  shared: number;
  swapTotal: number;
  swapFree: number;
}

/** Our field for each /proc/meminfo key. */
const KEYS: Record<string, keyof MemoryInfo> = {
  MemTotal: "total",
  MemFree: "free",
  MemAvailable: "available",
  Buffers: "buffers",
  Cached: "cached",
  Shmem: "shared",
  SwapTotal: "swapTotal",
  SwapFree: "swapFree",
};

/** The figures in a /proc/meminfo text; keys it lacks are 0. */
export function parseMeminfo(text: string): MemoryInfo {
  const info: MemoryInfo = { total: 0, free: 0, available: 0, buffers: 0, cached: 0, shared: 0, swapTotal: 0, swapFree: 0 };
  for (const line of text.split("\n")) {
    const m = /^(\w+):\s+(\d+)(?:\s+kB)?$/.exec(line.trim());
    const field = m ? KEYS[m[1]!] : undefined;
    if (field) info[field] = Number(m![2]) * (line.endsWith("kB") ? 1024 : 1);
  }
  return info;
}

/** Reads and parses `<procDir>/meminfo`. */
export async function readMeminfo(procDir: string): Promise<MemoryInfo> {
  return parseMeminfo(await readFile(`${procDir}/meminfo`, "utf8"));
}
