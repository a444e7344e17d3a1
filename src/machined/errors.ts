// machined's own errors: what went wrong in the machine's terms. The API
// layer (api/errors.ts) turns them into gRPC statuses in one place; nothing
// below it knows about transports.

/** What kind of failure an error is, as a caller can act on it. */
export type MachineErrorKind =
  /** The request itself is wrong (bad config, bad id, bad path). */
  | "invalid"
  /** Another operation holds the machine; the same request may succeed later. */
  | "busy"
  /** The machine's state does not allow this (no disk, maintenance mode, …). */
  | "refused"
  /** The named thing does not exist. */
  | "not-found"
  /** The caller may never have this (secrets, STATE's files). */
  | "forbidden"
  /** A limit was reached (disk space, sizes, counts). */
  | "exhausted"
  /** A dependency is not answering (containerd down, …). */
  | "unavailable"
  /** The caller went away or the operation was cancelled. */
  | "cancelled";

export class MachineError extends Error {
  override name = "MachineError";
  constructor(
    readonly kind: MachineErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** `invalid("…")`: the request is wrong. */
export const invalid = (message: string, cause?: unknown) => new MachineError("invalid", message, { cause });
/** `busy("…")`: another operation holds the machine. */
export const busy = (message: string, cause?: unknown) => new MachineError("busy", message, { cause });
/** `refused("…")`: not in this state of the machine. */
export const refused = (message: string, cause?: unknown) => new MachineError("refused", message, { cause });
/** `notFound("…")`: no such thing. */
export const notFound = (message: string, cause?: unknown) => new MachineError("not-found", message, { cause });
/** `forbidden("…")`: never for this caller. */
export const forbidden = (message: string, cause?: unknown) => new MachineError("forbidden", message, { cause });
/** `exhausted("…")`: a limit was reached. */
export const exhausted = (message: string, cause?: unknown) => new MachineError("exhausted", message, { cause });
/** `unavailable("…")`: a dependency does not answer. */
export const unavailable = (message: string, cause?: unknown) => new MachineError("unavailable", message, { cause });
/** `cancelled("…")`: the caller left or the work was cancelled. */
export const cancelled = (message: string, cause?: unknown) => new MachineError("cancelled", message, { cause });

/** The kind of a thrown value, when it is a MachineError. */
export function kindOf(err: unknown): MachineErrorKind | undefined {
  return err instanceof MachineError ? err.kind : undefined;
}

/** The most characters of a request's value an error message quotes. */
export const maxQuotedChars = 64;

/** `value` JSON-quoted for an error message, cut to `maxQuotedChars` with "…" and its full length. */
export function quote(value: string): string {
  if (value.length <= maxQuotedChars) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, maxQuotedChars))}… (${value.length} chars)`;
}
