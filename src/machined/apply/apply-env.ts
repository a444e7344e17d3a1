// What the live-apply steps need: the syscalls, the platform and the root
// they write under (tests point it at a temp dir).
import type { PlatformName } from "../../machinery/platform.js";
import type { Sys } from "../../sys/sys.js";

export interface ApplyEnv {
  sys: Sys;
  platform: PlatformName;
  /** Root of the machine's filesystem; "/" in machined. */
  root: string;
}
