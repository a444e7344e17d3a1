// Source "fw_cfg": QEMU's opt/kiln/config under /sys/firmware/qemu_fw_cfg.
import t from "tap";
import { fwCfgSource } from "../../../src/machined/config-sources/fw-cfg.js";
import { worker } from "../../config/fixtures.js";
import { fakeMachine } from "./helpers.js";

const fetch = (sysRoot: string) => fwCfgSource(sysRoot).fetch(() => {});

t.test("reads opt/kiln/config's raw contents", async (t) => {
  const m = fakeMachine(t);
  m.fwCfg(worker({}));
  t.same(await fetch(m.sys), { t: "found", yaml: worker({}), origin: "fw_cfg opt/kiln/config" });
});

t.test("says whether fw_cfg is absent, lacks the item, or holds an empty one", async (t) => {
  const m = fakeMachine(t);
  t.same(await fetch(m.sys), { t: "none", why: `no fw_cfg (${m.sys}/firmware/qemu_fw_cfg is absent)` });
  m.fwCfg(undefined);
  t.same(await fetch(m.sys), { t: "none", why: "no opt/kiln/config in fw_cfg" });
  m.fwCfg("\n");
  t.same(await fetch(m.sys), { t: "none", why: "opt/kiln/config in fw_cfg is empty" });
});
