// Failures as kilnctl reports them: one line, `kilnctl: <what>: <reason>`,
// and an exit code (see exit-codes.ts).
import { ApiError, Code } from "../grpc/errors.js";
import { ExitCode, exitCodeOf } from "./exit-codes.js";

/** A failure of `what` (e.g. `service "x"`) for `reason`, exiting with `exitCode`. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    readonly what: string,
    readonly reason: string,
    readonly exitCode: ExitCode = ExitCode.failure,
    options?: { cause?: unknown },
  ) {
    super(`${what}: ${reason}`, options);
  }
}

/** A wrong command line: exit code 2. */
export function usageError(what: string, reason: string): CliError {
  return new CliError(what, reason, ExitCode.usage);
}

/** What a failing command was doing, to name it in the error. */
export interface FailureContext {
  what: string;
  /** The endpoint called; UNAVAILABLE errors name it instead of `what`. */
  endpoint?: string;
  /** The --timeout in force, for DEADLINE_EXCEEDED. */
  timeout?: string;
}

/** Turns anything thrown while doing `ctx.what` into a CliError. */
export function toCliError(err: unknown, ctx: FailureContext): CliError {
  if (err instanceof CliError) return err;
  if (!(err instanceof ApiError)) return new CliError(ctx.what, describeError(err), ExitCode.failure, { cause: err });
  if (err.code === Code.UNAVAILABLE && ctx.endpoint) {
    return new CliError(`connecting to ${ctx.endpoint}`, connectionReason(err.message), ExitCode.unavailable, { cause: err });
  }
  return new CliError(ctx.what, apiReason(err, ctx), exitCodeOf(err.code), { cause: err });
}

/** The reason for an API error: canonical words for NOT_FOUND and deadlines, else the server's message. */
function apiReason(err: ApiError, ctx: FailureContext): string {
  if (err.code === Code.NOT_FOUND) return "not found";
  if (err.code === Code.DEADLINE_EXCEEDED) return `timed out${ctx.timeout ? ` after ${ctx.timeout}` : ""}`;
  if (err.code === Code.CANCELLED) return "cancelled";
  return err.message;
}

/** grpc-js's "No connection established. Last error: connect ENOENT …" in a few words. */
export function connectionReason(details: string): string {
  if (/ENOENT/.test(details)) return "no such socket";
  if (/ECONNREFUSED/.test(details)) return "connection refused (is machined running?)";
  if (/EACCES|EPERM/.test(details)) return "permission denied";
  if (/ENOTSOCK/.test(details)) return "not a socket";
  return details.replace(/^No connection established\. Last error: /, "");
}

/** A thrown error's message with its causes, system errors in plain words. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && parts.length < 5; e = e instanceof Error ? e.cause : undefined) {
    parts.push(systemReason(e) ?? (e instanceof Error ? e.message : String(e)));
  }
  return parts.join(": ");
}

/** Plain words for common errno codes. */
function systemReason(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === "ENOENT") return "no such file or directory";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "is a directory";
  return undefined;
}

/** The one stderr line for a failure. */
export function formatFailure(err: CliError): string {
  return `kilnctl: ${err.what}: ${oneLine(err.reason)}\n`;
}

/** Lines joined into one: "; " between them, a space after a colon or before a parenthesis. */
export function oneLine(text: string): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  return lines.reduce((out, line) => (out === "" ? line : `${out}${out.endsWith(":") || line.startsWith("(") ? " " : "; "}${line}`), "");
}
