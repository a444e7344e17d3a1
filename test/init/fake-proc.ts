// A fake /proc tree in a temp dir: pid directories with a stat line each,
// and optionally task/TID/children files for the process under test.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface FakeProcess {
  pid: number;
  ppid: number;
  state: string;
  comm?: string;
  flags?: number;
}

/** A stat line as the kernel writes it (fields past flags zeroed). */
export function statLine(p: FakeProcess): string {
  const rest = [p.state, p.ppid, p.pid, p.pid, 0, -1, p.flags ?? 0x400000, ...Array(45).fill(0)];
  return `${p.pid} (${p.comm ?? "proc"}) ${rest.join(" ")}\n`;
}

/** Creates the tree; `children` writes task files for `self` (one per thread given). */
export function fakeProc(processes: FakeProcess[], children?: { self: number; threads: Record<number, number[]> }) {
  const root = mkdtempSync(join(tmpdir(), "kiln-proc-"));
  for (const p of processes) addProcess(root, p);
  if (children) {
    for (const [tid, kids] of Object.entries(children.threads)) {
      mkdirSync(`${root}/${children.self}/task/${tid}`, { recursive: true });
      writeFileSync(`${root}/${children.self}/task/${tid}/children`, kids.map((k) => `${k} `).join(""));
    }
  }
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** Adds (or replaces) one process. */
export function addProcess(root: string, p: FakeProcess): void {
  mkdirSync(`${root}/${p.pid}`, { recursive: true });
  writeFileSync(`${root}/${p.pid}/stat`, statLine(p));
}

/** Removes a process, as if it had been reaped. */
export function removeProcess(root: string, pid: number): void {
  rmSync(`${root}/${pid}`, { recursive: true, force: true });
}
