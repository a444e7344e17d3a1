// Where a machine looks for its config at boot, in order. The first source
// that finds a document wins; an invalid one stops the search (acquire.ts).
import type { Sys } from "../../sys/sys.js";
import type { ConfigStore } from "../config-store.js";
import type { PlatformName } from "../../machinery/platform.js";
import { type CmdlineUrlOptions, cmdlineUrlSource } from "./cmdline-url.js";
import { configDriveSource } from "./config-drive.js";
import { fwCfgSource } from "./fw-cfg.js";
import { type ConfigSource, type Roots, realRoots } from "./source.js";
import { stateSource } from "./state.js";

export interface SourcesOptions {
  platform: PlatformName;
  sys: Pick<Sys, "mount" | "umount2">;
  store: Pick<ConfigStore, "path" | "goodPath">;
  roots?: Roots;
  /** Resolves true once the network is up (false after `ms`); the URL source waits on it first. */
  waitOnline?: (ms: number) => Promise<boolean>;
  /** The URL source's fetch, clock and budget (tests shorten them). */
  url?: Omit<CmdlineUrlOptions, "proc" | "waitOnline">;
}

/**
 * The table. A sandbox sees its host's /proc/cmdline, block devices and
 * firmware, none of which are the machine's: there, STATE alone.
 */
export function configSources(o: SourcesOptions): ConfigSource[] {
  const roots = o.roots ?? realRoots;
  if (o.platform === "sandbox") return [stateSource(o.store)];
  return [
    stateSource(o.store),
    cmdlineUrlSource({ proc: roots.proc, waitOnline: o.waitOnline, ...o.url }),
    configDriveSource({ sys: o.sys, roots }),
    fwCfgSource(roots.sys),
  ];
}
