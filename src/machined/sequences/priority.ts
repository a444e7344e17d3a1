// Which sequence may run while another runs. One lock: one sequence at a
// time. Reboot, shutdown and reset preempt any sequence of lower priority
// (it stops at its next task boundary); every other request is refused at
// once while anything runs.
export type SequenceName = "boot" | "applyConfig" | "bootstrap" | "install" | "upgrade" | "rollback" | "reset" | "reboot" | "shutdown";

export const SEQUENCES: readonly SequenceName[] = ["boot", "applyConfig", "bootstrap", "install", "upgrade", "rollback", "reset", "reboot", "shutdown"];

/** Higher wins. Equal priorities never preempt each other. */
export const PRIORITY: Readonly<Record<SequenceName, number>> = {
  boot: 0,
  applyConfig: 1,
  bootstrap: 1,
  install: 2,
  upgrade: 2,
  rollback: 2,
  reboot: 3,
  shutdown: 3,
  reset: 3,
};

/** The sequences that take the machine down, and so may cancel lower ones. */
const PREEMPTING: ReadonlySet<SequenceName> = new Set(["reboot", "shutdown", "reset"]);

export type Decision = "run" | "preempt" | "refuse";

/** What happens to a request for `request` while `running` holds the lock (undefined: nothing does). */
export function decide(request: SequenceName, running: SequenceName | undefined): Decision {
  if (running === undefined) return "run";
  if (PREEMPTING.has(request) && PRIORITY[running] < PRIORITY[request]) return "preempt";
  return "refuse";
}
