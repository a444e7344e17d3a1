// The environment every service starts with: a fixed PATH plus machine.env.
import type { MachineContext } from "../machined/service.js";

const basePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** PATH and machine.env, then the service's own variables on top. */
export function serviceEnv(m: MachineContext, own: Record<string, string> = {}): Record<string, string> {
  return { PATH: basePath, ...m.env, ...own };
}
