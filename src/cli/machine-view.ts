// Local machines (`kilnctl cluster`) as tables; JSON and YAML print MachineInfo as is.
import type { MachineInfo } from "../provision/provisioner.js";
import type { Column } from "./table.js";

export const machineColumns: Column<MachineInfo>[] = [
  { header: "NAME", value: (r) => r.name },
  { header: "PROVISIONER", value: (r) => r.provisioner },
  { header: "STATUS", value: (r) => r.status },
  { header: "PID", value: (r) => (r.pid > 0 ? String(r.pid) : "-") },
  { header: "ENDPOINT", value: (r) => r.endpoint },
];
