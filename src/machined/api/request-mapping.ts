// Maps protobuf requests to the Machine facade's arguments, rejecting what
// it cannot express with INVALID_ARGUMENT.
import type { Duration } from "@bufbuild/protobuf/wkt";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { ApplyMode, RebootMode } from "../../gen/kiln/machine/v1/machine_pb.js";
import { ApiError, Code } from "../../grpc/errors.js";
import { maxConfigBytes, maxServiceIdBytes } from "../../machinery/api-limits.js";
import { tooLarge, withinLimit } from "./request-limits.js";
import type { ApplyMode as FacadeApplyMode, RebootMode as FacadeRebootMode } from "../machine.js";

/** How long a `try` apply lasts when the request names no timeout. */
export const defaultTryTimeoutMs = 60_000;

const applyModes: Record<FacadeApplyMode, ApplyMode> = {
  auto: ApplyMode.AUTO,
  "no-reboot": ApplyMode.NO_REBOOT,
  reboot: ApplyMode.REBOOT,
  staged: ApplyMode.STAGED,
  try: ApplyMode.TRY,
};

/** The facade's apply mode for a protobuf one; UNSPECIFIED means auto. */
export function fromApplyMode(mode: ApplyMode): FacadeApplyMode {
  if (mode === ApplyMode.UNSPECIFIED) return "auto";
  const found = (Object.keys(applyModes) as FacadeApplyMode[]).find((k) => applyModes[k] === mode);
  if (!found) throw new ApiError(Code.INVALID_ARGUMENT, `unknown apply mode ${mode}`);
  return found;
}

/** The protobuf apply mode for a facade one. */
export function toApplyMode(mode: FacadeApplyMode): ApplyMode {
  return applyModes[mode] ?? ApplyMode.UNSPECIFIED;
}

/** The facade's reboot mode for a protobuf one; UNSPECIFIED means default. */
export function fromRebootMode(mode: RebootMode): FacadeRebootMode {
  if (mode === RebootMode.UNSPECIFIED || mode === RebootMode.DEFAULT) return "default";
  if (mode === RebootMode.POWERCYCLE) return "powercycle";
  throw new ApiError(Code.INVALID_ARGUMENT, `unknown reboot mode ${mode}`);
}

/** Milliseconds of a `try` apply: the request's timeout, else the default. */
export function tryTimeoutMs(mode: FacadeApplyMode, timeout: Duration | undefined): number {
  const ms = timeout ? durationMs(timeout) : 0;
  if (ms < 0) throw new ApiError(Code.INVALID_ARGUMENT, `try_timeout must not be negative, got ${ms}ms`);
  if (mode !== "try") return 0;
  return ms > 0 ? ms : defaultTryTimeoutMs;
}

/** The config bytes as text; empty, oversized or non-UTF-8 data is refused. */
export function configText(data: Uint8Array): string {
  if (data.length === 0) throw new ApiError(Code.INVALID_ARGUMENT, "the machine config is empty");
  if (data.length > maxConfigBytes) throw tooLarge("the machine config", data.length, maxConfigBytes);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(data);
  } catch (err) {
    throw new ApiError(Code.INVALID_ARGUMENT, "the machine config is not valid UTF-8", { cause: err });
  }
}

/** A service id from a request; an empty or oversized one is refused. */
export function serviceId(id: string): string {
  if (id === "") throw new ApiError(Code.INVALID_ARGUMENT, "a service id is required");
  return withinLimit("the service id", id, maxServiceIdBytes);
}

/** A uint64 event id as a number; ids past 2^53 are refused. */
export function eventId(id: bigint): number {
  if (id > BigInt(Number.MAX_SAFE_INTEGER)) throw new ApiError(Code.INVALID_ARGUMENT, `since_id ${id} is out of range`);
  return Number(id);
}
