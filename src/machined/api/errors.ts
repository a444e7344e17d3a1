// machined's errors as gRPC statuses: the one place where a kind of failure
// becomes a status code. Everything below the API layer throws MachineError.
import { ApiError, Code } from "../../grpc/errors.js";
import { MachineError, type MachineErrorKind } from "../errors.js";

/** Each kind of machine error and the status code a client gets for it. */
export const codes: Record<MachineErrorKind, Code> = {
  invalid: Code.INVALID_ARGUMENT,
  busy: Code.FAILED_PRECONDITION,
  refused: Code.FAILED_PRECONDITION,
  "not-found": Code.NOT_FOUND,
  forbidden: Code.PERMISSION_DENIED,
  exhausted: Code.RESOURCE_EXHAUSTED,
  unavailable: Code.UNAVAILABLE,
  cancelled: Code.CANCELLED,
};

/** The status for anything a handler threw: a MachineError by its kind, an ApiError as it is, anything else INTERNAL. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof MachineError) return new ApiError(codes[err.kind], err.message, { cause: err });
  if (err instanceof ApiError) return err;
  return new ApiError(Code.INTERNAL, err instanceof Error ? err.message : String(err), { cause: err });
}
