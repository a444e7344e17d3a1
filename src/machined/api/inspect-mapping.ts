// Maps the inspection results of the Machine facade (kernel log, memory,
// processes, mounts, files, containers) to their protobuf shapes, and their
// requests' fields to the facade's arguments.
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { type Duration, durationMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type {
  ContainerInfoSchema,
  ImageInfoSchema,
  ListResponseSchema,
  MountInfoSchema,
  ProcessInfoSchema,
  RouteInfoSchema,
} from "../../gen/kiln/machine/v1/machine_pb.js";
import { ApiError, Code } from "../../grpc/errors.js";
import { quote } from "../errors.js";
import { maxPathBytes } from "../../machinery/api-limits.js";
import { withinLimit } from "./request-limits.js";
import { isRole, roles as clientRoles } from "../../pki/roles.js";
import type { ContainerEntry } from "../inspect/containers.js";
import type { ImageEntry } from "../inspect/images.js";
import type { FileEntry } from "../inspect/files.js";
import { formatKernelRecord, type KernelRecord } from "../inspect/kmsg.js";
import type { MemoryInfo } from "../inspect/meminfo.js";
import type { MountEntry } from "../inspect/mounts.js";
import type { ProcessEntry } from "../inspect/processes.js";
import type { Route } from "../../net/rtnetlink.js";

type Init<S extends DescMessage> = MessageInitShape<S>;

/** A byte count for a uint64 field. */
function u64(n: number): bigint {
  return BigInt(Math.max(0, Math.round(n)));
}

/** A batch of kernel records as text, one formatted record a line. */
export function kernelText(records: KernelRecord[]): Uint8Array {
  return new TextEncoder().encode(records.map((r) => `${formatKernelRecord(r)}\n`).join(""));
}

/** /proc/meminfo figures as a Memory message (without metadata). */
export function toMemory(m: MemoryInfo) {
  const { total, free, available, buffers, cached, shared, swapTotal, swapFree } = m;
  return { total: u64(total), free: u64(free), available: u64(available), buffers: u64(buffers), cached: u64(cached), shared: u64(shared), swapTotal: u64(swapTotal), swapFree: u64(swapFree) };
}

/** One process as a ProcessInfo message. */
export function toProcessInfo(p: ProcessEntry): Init<typeof ProcessInfoSchema> {
  return { ...p, virtualMemory: u64(p.virtualMemory), residentMemory: u64(p.residentMemory) };
}

/** One mount as a MountInfo message. */
export function toMountInfo(m: MountEntry): Init<typeof MountInfoSchema> {
  return { ...m, size: u64(m.size), available: u64(m.available) };
}

/** One route as a RouteInfo message (its `dst` is `destination`, its `dev` the `link`). */
export function toRouteInfo(r: Route): Init<typeof RouteInfoSchema> {
  const { dst, dev, ...rest } = r;
  return { ...rest, destination: dst, link: dev };
}

/** One directory entry as a ListResponse for `node`. */
export function toListResponse(e: FileEntry, node: string): Init<typeof ListResponseSchema> {
  return { metadata: { node }, ...e, size: BigInt(e.size), modified: timestampFromDate(e.modified) };
}

/** One container as a ContainerInfo message. */
export function toContainerInfo(c: ContainerEntry): Init<typeof ContainerInfoSchema> {
  return { ...c, created: c.created ? timestampFromDate(c.created) : undefined };
}

export function toImageInfo(i: ImageEntry): Init<typeof ImageInfoSchema> {
  return { ...i, size: BigInt(i.size), created: i.created ? timestampFromDate(i.created) : undefined };
}

/** A path field: required, absolute. */
export function requiredPath(field: string, path: string): string {
  if (path === "") throw new ApiError(Code.INVALID_ARGUMENT, `${field} is required`);
  withinLimit(field, path, maxPathBytes);
  if (!path.startsWith("/")) throw new ApiError(Code.INVALID_ARGUMENT, `${field} must be an absolute path, got ${quote(path)}`);
  return path;
}

/** The requested roles: at least one, each a known role. */
export function requestedRoles(roles: string[]): string[] {
  if (roles.length === 0) throw new ApiError(Code.INVALID_ARGUMENT, `roles: expected at least one of ${clientRoles.join(", ")}`);
  const unknown = roles.filter((r) => !isRole(r));
  if (unknown.length) throw new ApiError(Code.INVALID_ARGUMENT, `roles: expected ${clientRoles.join(", ")}, got ${unknown.slice(0, 5).map(quote).join(", ")}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ""}`);
  return [...new Set(roles)];
}

/** A certificate lifetime in ms; 0 (unset) means the PKI default, negative is refused. */
export function crtTtlMs(ttl: Duration | undefined): number {
  const ms = ttl ? durationMs(ttl) : 0;
  if (ms < 0) throw new ApiError(Code.INVALID_ARGUMENT, `crt_ttl must not be negative, got ${ms}ms`);
  return ms;
}
