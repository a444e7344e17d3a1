// The provisioners behind `kilnctl cluster create|destroy|show`. Only the
// sandbox provisioner exists yet; qemu will dispatch here too.
import type { CreateOptions, MachineInfo, ProvisionerName } from "./provisioner.js";
import { createSandbox } from "./sandbox/create.js";
import { destroySandbox, type StopOptions } from "./sandbox/destroy.js";
import { listSandboxes } from "./sandbox/list.js";

export type { CreateOptions, MachineInfo, ProvisionerName } from "./provisioner.js";

/** Options for destroyMachine. */
export interface DestroyOptions extends StopOptions {
  provisioner?: ProvisionerName;
}

/** Creates and starts a machine; resolves with its MachineInfo once its API answers. */
export async function createMachine(opts: CreateOptions): Promise<MachineInfo> {
  checkProvisioner(opts.provisioner);
  return createSandbox(opts);
}

/** Stops machine `name` (API shutdown, then signals) and removes its state. Unknown names throw. */
export async function destroyMachine(name: string, opts: DestroyOptions = {}): Promise<void> {
  checkProvisioner(opts.provisioner ?? "sandbox");
  await destroySandbox(name, opts);
}

/** Every machine (or just `name`; none when unknown) with its live status. */
export async function listMachines(name?: string): Promise<MachineInfo[]> {
  return listSandboxes(name);
}

/** Throws for a provisioner that does not exist (yet). */
function checkProvisioner(p: unknown): void {
  if (p !== "sandbox") throw new Error(`Expected the provisioner to be "sandbox", got ${JSON.stringify(p)}`);
}
