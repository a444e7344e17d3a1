// Names of protobuf enum values as kilnctl prints them.
import type { DescEnum } from "@bufbuild/protobuf";

/** The value's short name in kebab case, e.g. NO_REBOOT → "no-reboot"; "unknown" if unlisted. */
export function kebabName(desc: DescEnum, value: number): string {
  const v = desc.values.find((x) => x.number === value);
  if (!v || v.number === 0) return "unknown";
  return v.localName.toLowerCase().replaceAll("_", "-");
}

/** The value's short name capitalized, e.g. RUNNING → "Running". */
export function titleName(desc: DescEnum, value: number): string {
  const name = kebabName(desc, value);
  return name.charAt(0).toUpperCase() + name.slice(1);
}
