// The bootstrap sequence: this control plane founds the cluster's etcd. The
// mark goes to EPHEMERAL first (so a reboot before etcd wrote its member
// still founds it, and a second bootstrap is refused); etcd, waiting for
// exactly that, starts, and the API server, controller manager and scheduler
// follow it (each waits for what it depends on). The starts below only matter
// where those services had stopped (a failed start, `kilnctl service stop`).
import { type Phase, phase, task } from "./runner.js";

export interface BootstrapSteps {
  /** Records that this node founds the cluster. */
  mark(): void;
  /** Starts etcd as a new one-member cluster (a no-op when it waits for the mark already). */
  startEtcd(): Promise<unknown>;
  /** Starts the API server, controller manager and scheduler (each waits for etcd). */
  startControlPlane(): Promise<unknown>;
}

export function bootstrapSequence(s: BootstrapSteps): Phase[] {
  return [
    phase("mark", task("markBootstrap", async () => s.mark())),
    phase("etcd", task("startEtcd", () => s.startEtcd())),
    phase("controlPlane", task("startControlPlane", () => s.startControlPlane())),
  ];
}
