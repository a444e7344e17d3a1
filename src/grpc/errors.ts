import { status } from "@grpc/grpc-js";

/** gRPC status codes, re-exported so callers need not import grpc-js. */
export const Code = status;
export type Code = status;

/**
 * The one error type that crosses the API boundary: a gRPC status code, a
 * message for the operator, and the cause kept for logs.
 */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Turns anything thrown into an ApiError; unknown errors become INTERNAL. */
  static from(err: unknown): ApiError {
    if (err instanceof ApiError) return err;
    if (isServiceError(err)) return new ApiError(err.code, err.details || err.message, { cause: err });
    const message = err instanceof Error ? err.message : String(err);
    return new ApiError(Code.INTERNAL, message, { cause: err });
  }
}

/** The shape of errors grpc-js hands to clients. */
export function isServiceError(err: unknown): err is Error & { code: Code; details: string } {
  return err instanceof Error && typeof (err as { code?: unknown }).code === "number" && "details" in err;
}

/** Name of a status code, e.g. "INVALID_ARGUMENT". */
export function codeName(code: Code): string {
  return status[code] ?? `CODE_${code}`;
}
