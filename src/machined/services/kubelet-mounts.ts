// machine.kubelet.extraMounts: made by machined, in order, before kubelet
// first starts. kubelet is a process of the machine's own mount namespace
// (not a container, as on Talos), so its mounts are the host's; a mount made
// stays until the next boot (the field's changes take effect at reboot).
import { existsSync, mkdirSync } from "node:fs";
import { type FlagOption, isBindMount, type PropagationOption, sortMountOptions } from "../../config/mount-options.js";
import type { MachineConfig } from "../../config/schema.js";
import { MS, type Sys } from "../../sys/sys.js";

type ExtraMount = NonNullable<NonNullable<MachineConfig["machine"]["kubelet"]>["extraMounts"]>[number];

/** One mount(2) call. */
export interface MountCall {
  source: string;
  target: string;
  fstype: string | null;
  flags: number;
  data?: string;
}

const flagBits: Record<FlagOption, number> = { ro: MS.RDONLY, rw: 0, nosuid: MS.NOSUID, nodev: MS.NODEV, noexec: MS.NOEXEC, noatime: MS.NOATIME, relatime: MS.RELATIME };
const propagationBits: Record<PropagationOption, number> = {
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
};

/**
 * The mount(2) calls for one extra mount, as mount(8) makes them: a bind
 * mount ignores flags, so they come in a remount of the bind; propagation is
 * a call of its own.
 */
export function mountCalls(m: ExtraMount): MountCall[] {
  const o = sortMountOptions(m.options ?? []);
  const flags = o.flags.reduce((bits, f) => bits | flagBits[f], 0);
  const isBind = isBindMount(m.type, m.options ?? []);
  const calls: MountCall[] = isBind
    ? [
        { source: m.source, target: m.destination, fstype: null, flags: MS.BIND | (o.bind === "rbind" ? MS.REC : 0) },
        ...(flags === 0 ? [] : [{ source: m.source, target: m.destination, fstype: null, flags: MS.BIND | MS.REMOUNT | flags }]),
      ]
    : [{ source: m.source, target: m.destination, fstype: m.type ?? null, flags, ...(o.data.length ? { data: o.data.join(",") } : {}) }];
  if (o.propagation) calls.push({ source: "none", target: m.destination, fstype: null, flags: propagationBits[o.propagation] });
  return calls;
}

/** Keys of the mounts made since machined started: a kubelet restart does not mount them twice. */
const made = new Set<string>();

/** Makes the config's extra mounts not made yet; a failure names the mount and the reason. */
export function makeKubeletMounts(config: MachineConfig, sys: Sys, done: Set<string> = made): void {
  for (const m of config.machine.kubelet?.extraMounts ?? []) {
    const key = JSON.stringify(m);
    if (done.has(key)) continue;
    if (isBindMount(m.type, m.options ?? []) && !existsSync(m.source)) {
      if (!m.source.startsWith("/var/")) throw new Error(`machine.kubelet.extraMounts: source ${m.source} does not exist (kiln makes a missing source only under /var)`);
      mkdirSync(m.source, { recursive: true });
    }
    mkdirSync(m.destination, { recursive: true });
    for (const c of mountCalls(m)) {
      try {
        sys.mount(c.source, c.target, c.fstype, c.flags, c.data);
      } catch (err) {
        throw new Error(`machine.kubelet.extraMounts: mounting ${m.source} on ${m.destination}: ${(err as Error).message}`);
      }
    }
    done.add(key);
  }
}
