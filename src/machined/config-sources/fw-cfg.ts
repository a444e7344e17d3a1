// Source "fw_cfg": QEMU's firmware config item opt/kiln/config, which
// `-fw_cfg name=opt/kiln/config,file=worker.yaml` provides; the kernel
// (module qemu_fw_cfg, loaded by stage 1) shows it under /sys/firmware.
import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type ConfigSource, found, none } from "./source.js";

export const fwCfgItem = "opt/kiln/config";

/** The source, reading under `sysRoot` (/sys). */
export function fwCfgSource(sysRoot: string): ConfigSource {
  return {
    name: "fw_cfg",
    fetch: async () => {
      const base = join(sysRoot, "firmware/qemu_fw_cfg");
      if (!(await access(base).then(() => true, () => false))) return none(`no fw_cfg (${base} is absent)`);
      const raw = join(base, "by_name", fwCfgItem, "raw");
      const yaml = await readFile(raw, "utf8").catch(() => undefined);
      if (yaml === undefined) return none(`no ${fwCfgItem} in fw_cfg`);
      if (yaml.trim() === "") return none(`${fwCfgItem} in fw_cfg is empty`);
      return found(yaml, `fw_cfg ${fwCfgItem}`);
    },
  };
}
