// The disk layout (src/machinery/disk-layout.ts) in sfdisk's words: the
// script the builder feeds sfdisk to write the table, and a check of what
// `sfdisk -J` reads back, so the builder catches a wrong type GUID (a typo in
// the BIOS boot GUID is accepted silently and only shows up as a disk that
// does not boot).
import { DISK_GUID, FIRST_LBA, type Partition } from "../machinery/disk-layout.js";

/** The input sfdisk reads to write the table. */
export function sfdiskScript(layout: Partition[]): string {
  const head = ["label: gpt", `label-id: ${DISK_GUID}`, "unit: sectors", `first-lba: ${FIRST_LBA}`, ""];
  const rows = layout.map((p) => `start=${p.start}, size=${p.size}, type=${p.type}, uuid=${p.uuid}, name="${p.name}"`);
  return `${[...head, ...rows].join("\n")}\n`;
}

interface SfdiskJson {
  partitiontable?: { label?: string; id?: string; partitions?: { start: number; size: number; type: string; uuid?: string; name?: string }[] };
}

/** Problems with what `sfdisk -J` reports against `layout`; empty when they agree. */
export function checkTable(json: string, layout: Partition[]): string[] {
  const t = (JSON.parse(json) as SfdiskJson).partitiontable;
  if (t?.label !== "gpt") return [`expected a GPT, got ${t?.label ?? "no partition table"}`];
  const problems: string[] = [];
  if (t.id?.toUpperCase() !== DISK_GUID) problems.push(`label-id: expected ${DISK_GUID}, got ${t.id}`);
  const got = t.partitions ?? [];
  if (got.length !== layout.length) problems.push(`expected ${layout.length} partitions, got ${got.length}`);
  layout.forEach((want, i) => {
    const p = got[i];
    if (!p) return;
    const have = { start: p.start, size: p.size, type: p.type.toUpperCase(), uuid: p.uuid?.toUpperCase(), name: p.name };
    for (const k of ["start", "size", "type", "uuid", "name"] as const) {
      if (have[k] !== want[k]) problems.push(`partition ${want.number} ${k}: expected ${want[k]}, got ${have[k]}`);
    }
  });
  return problems;
}
