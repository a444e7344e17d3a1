// The options machine.kubelet.extraMounts takes, sorted into mount(2) flags,
// propagation changes and filesystem data, so validation and machined read
// them the same way.

/** Options that are mount(2) flags: set (true) or cleared (false). */
export const flagOptions = ["ro", "rw", "nosuid", "nodev", "noexec", "noatime", "relatime"] as const;
/** Options that bind: rbind takes the mounts under the source too. */
export const bindOptions = ["bind", "rbind"] as const;
/** Propagation, applied after the mount (a second mount(2) call, as mount(8) does). */
export const propagationOptions = ["shared", "rshared", "slave", "rslave", "private", "rprivate"] as const;

export type FlagOption = (typeof flagOptions)[number];
export type PropagationOption = (typeof propagationOptions)[number];

export interface SortedOptions {
  flags: FlagOption[];
  bind: "bind" | "rbind" | undefined;
  propagation: PropagationOption | undefined;
  /** key=value options for the filesystem itself (tmpfs size=…); only for a type that is not bind. */
  data: string[];
}

const isOneOf = <T extends string>(list: readonly T[], o: string): o is T => (list as readonly string[]).includes(o);

/** An extra mount's options sorted by what takes them. */
export function sortMountOptions(options: readonly string[]): SortedOptions {
  const sorted: SortedOptions = { flags: [], bind: undefined, propagation: undefined, data: [] };
  for (const o of options) {
    if (isOneOf(flagOptions, o)) sorted.flags.push(o);
    else if (isOneOf(bindOptions, o)) sorted.bind = o;
    else if (isOneOf(propagationOptions, o)) sorted.propagation = o;
    else sorted.data.push(o);
  }
  return sorted;
}

/** Whether a mount binds a path: no type, type bind, or a bind option. */
export function isBindMount(type: string | undefined, options: readonly string[]): boolean {
  return type === undefined || type === "bind" || sortMountOptions(options).bind !== undefined;
}

/** What is wrong with an extra mount's type and options, or undefined. */
export function mountOptionsProblem(type: string | undefined, options: readonly string[]): string | undefined {
  const sorted = sortMountOptions(options);
  if (isBindMount(type, options) && sorted.data.length > 0) {
    return `${sorted.data.map((o) => `"${o}"`).join(", ")}: not an option of a bind mount; expected ${[...flagOptions, ...bindOptions, ...propagationOptions].join(", ")}`;
  }
  if (sorted.flags.includes("ro") && sorted.flags.includes("rw")) return "ro and rw together: give one";
  return undefined;
}
