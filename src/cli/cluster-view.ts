// A multi-node cluster (`kilnctl cluster create|show`) as a table: one row a
// node. JSON and YAML print ClusterInfo as is (the network and the nodes).
import type { ClusterInfo, ClusterNodeInfo } from "../provision/provisioner.js";
import { type Format, renderList, renderOne } from "./output.js";
import type { Column } from "./table.js";

export const clusterNodeColumns: Column<ClusterNodeInfo>[] = [
  { header: "NAME", value: (r) => r.name },
  { header: "ROLE", value: (r) => r.role },
  { header: "ADDRESS", value: (r) => r.address },
  { header: "MAC", value: (r) => r.mac },
  { header: "STATE", value: (r) => r.status },
  { header: "PID", value: (r) => (r.pid > 0 ? String(r.pid) : "-") },
];

/** The cluster: its nodes as a table, or all of it as JSON or YAML. */
export function renderCluster(format: Format, c: ClusterInfo): string {
  if (format === "table") return renderList(format, c.nodes, clusterNodeColumns);
  return renderOne(format, c, []);
}
