// The bootstrap sequence: this control plane founds the cluster's etcd. The
// mark goes to EPHEMERAL first (so a reboot before etcd wrote its member
// still founds it, and a second bootstrap is refused), then etcd starts, then
// the API server, controller manager and scheduler (skipped until etcd was
// bootstrapped here; each waits for what it depends on).
import { type Phase, phase, task } from "./runner.js";

export interface BootstrapSteps {
  /** Records that this node founds the cluster. */
  mark(): void;
  /** Starts etcd (skipped until now) as a new one-member cluster. */
  startEtcd(): Promise<unknown>;
  /** Starts the API server, controller manager and scheduler (skipped until now). */
  startControlPlane(): Promise<unknown>;
}

export function bootstrapSequence(s: BootstrapSteps): Phase[] {
  return [
    phase("mark", task("markBootstrap", async () => s.mark())),
    phase("etcd", task("startEtcd", () => s.startEtcd())),
    phase("controlPlane", task("startControlPlane", () => s.startControlPlane())),
  ];
}
