// The environment every service starts with: a fixed PATH plus machine.env.
import { DEFAULT_PATH } from "../../machinery/paths.js";
import type { MachineContext } from "../service.js";

/** PATH and machine.env, then the service's own variables on top. */
export function serviceEnv(m: MachineContext, own: Record<string, string> = {}): Record<string, string> {
  return { PATH: DEFAULT_PATH, ...m.env, ...own };
}
