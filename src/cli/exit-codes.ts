// kilnctl's exit codes, in one place (docs/kilnctl.md lists them).
import { Code } from "../grpc/errors.js";

export const ExitCode = {
  /** The command did what was asked. */
  ok: 0,
  /** It failed: the machine refused, the config is invalid, the provisioner failed… */
  failure: 1,
  /** The command line is wrong: unknown flag, bad value, missing argument. */
  usage: 2,
  /** The named service, config or cluster does not exist. */
  notFound: 3,
  /** The machine API could not be reached. */
  unavailable: 4,
  /** The call ran past --timeout. */
  timeout: 5,
  /** `upgrade --wait`: the new slot did not become healthy and the machine went back to the old one. */
  rolledBack: 6,
  /** `health`: a check did not hold within --wait-timeout. */
  unhealthy: 7,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit code for a gRPC status code. */
export function exitCodeOf(code: Code): ExitCode {
  if (code === Code.OK) return ExitCode.ok;
  if (code === Code.NOT_FOUND) return ExitCode.notFound;
  if (code === Code.UNAVAILABLE) return ExitCode.unavailable;
  if (code === Code.DEADLINE_EXCEEDED) return ExitCode.timeout;
  return ExitCode.failure;
}
