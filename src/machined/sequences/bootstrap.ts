// The bootstrap sequence: this control plane founds the cluster's etcd. The
// mark goes to EPHEMERAL first (so a reboot before etcd wrote its member
// still founds it, and a second bootstrap is refused), then etcd starts.
import { type Phase, phase, task } from "./runner.js";

export interface BootstrapSteps {
  /** Records that this node founds the cluster. */
  mark(): void;
  /** Starts etcd (skipped until now) as a new one-member cluster. */
  startEtcd(): Promise<unknown>;
}

export function bootstrapSequence(s: BootstrapSteps): Phase[] {
  return [phase("mark", task("markBootstrap", async () => s.mark())), phase("etcd", task("startEtcd", () => s.startEtcd()))];
}
