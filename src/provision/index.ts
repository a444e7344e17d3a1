// The provisioners behind `kilnctl cluster create|destroy|show`: sandbox
// (namespaces on this host) and qemu (the bootable image in a VM).
import type { CreateOptions, MachineInfo, ProvisionerName } from "./provisioner.js";
import { createSandbox } from "./sandbox/create.js";
import { destroySandbox, type StopOptions } from "./sandbox/destroy.js";
import { listSandboxes } from "./sandbox/list.js";
import { createVm } from "./qemu/create.js";
import { destroyVm } from "./qemu/destroy.js";
import { listVms } from "./qemu/list.js";
import { listClusters } from "./qemu/cluster-list.js";
import { PROVISIONERS } from "./provisioner.js";

export type { ClusterCreateOptions, ClusterInfo, ClusterNodeInfo, ClusterPlan, CreateOptions, MachineInfo, ProvisionerName } from "./provisioner.js";

/** Options for destroyMachine. */
export interface DestroyOptions extends StopOptions {
  provisioner?: ProvisionerName;
}

/** Creates and starts a machine; resolves with its MachineInfo once its API answers. */
export async function createMachine(opts: CreateOptions): Promise<MachineInfo> {
  checkProvisioner(opts.provisioner);
  if (listClusters(opts.name).length > 0) throw new Error(`a cluster named "${opts.name}" exists; destroy it first (kilnctl cluster destroy ${opts.name}) or pick another name`);
  if (opts.provisioner === "qemu") return createVm(opts);
  if (listVms(opts.name).some((m) => m.status === "running")) throw new Error(`a qemu machine named "${opts.name}" is running; pick another name`);
  return createSandbox(opts);
}

/** Stops machine `name` (API shutdown, then signals) and removes its state. Unknown names throw. */
export async function destroyMachine(name: string, opts: DestroyOptions = {}): Promise<void> {
  const provisioner = opts.provisioner ?? (listVms(name).length > 0 ? "qemu" : "sandbox");
  checkProvisioner(provisioner);
  if (provisioner === "qemu") await destroyVm(name, opts);
  else await destroySandbox(name, opts);
}

/** Every machine (or just `name`; none when unknown) with its live status. */
export async function listMachines(name?: string): Promise<MachineInfo[]> {
  return [...listSandboxes(name), ...listVms(name)].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Throws for a provisioner that does not exist (yet). */
function checkProvisioner(p: unknown): void {
  if (!PROVISIONERS.includes(p as never)) throw new Error(`Expected the provisioner to be one of ${PROVISIONERS.join(", ")}, got ${JSON.stringify(p)}`);
}

export { createCluster } from "./qemu/cluster-create.js";
export { destroyCluster } from "./qemu/cluster-destroy.js";
export { listClusters };
