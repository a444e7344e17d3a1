import t from "tap";
import { ApiError, Code } from "../../../src/grpc/errors.js";
import { codes, toApiError } from "../../../src/machined/api/errors.js";
import { MachineError, type MachineErrorKind } from "../../../src/machined/errors.js";

/** The status each kind of machine error reaches a client as. */
const table: Record<MachineErrorKind, Code> = {
  invalid: Code.INVALID_ARGUMENT,
  busy: Code.FAILED_PRECONDITION,
  refused: Code.FAILED_PRECONDITION,
  "not-found": Code.NOT_FOUND,
  forbidden: Code.PERMISSION_DENIED,
  exhausted: Code.RESOURCE_EXHAUSTED,
  unavailable: Code.UNAVAILABLE,
  cancelled: Code.CANCELLED,
};

t.test("maps every kind of machine error to its status code, keeping message and cause", async (t) => {
  t.same(codes, table);
  for (const kind of Object.keys(table) as MachineErrorKind[]) {
    const err = new MachineError(kind, `a ${kind} failure`);
    const api = toApiError(err);
    t.ok(api instanceof ApiError, kind);
    t.equal(api.code, table[kind], kind);
    t.equal(api.message, `a ${kind} failure`, kind);
    t.equal(api.cause, err, kind);
  }
});

t.test("passes an ApiError through as it is", async (t) => {
  const err = new ApiError(Code.ABORTED, "thrown by code not yet converted");
  t.equal(toApiError(err), err);
});

t.test("turns anything else into INTERNAL with its message", async (t) => {
  const err = new Error("supervisor exploded");
  t.match(toApiError(err), { code: Code.INTERNAL, message: "supervisor exploded", cause: err });
  t.match(toApiError("a string"), { code: Code.INTERNAL, message: "a string" });
  const serviceError = Object.assign(new Error("14 UNAVAILABLE: no connection"), { code: Code.UNAVAILABLE, details: "no connection" });
  t.equal(toApiError(serviceError).code, Code.INTERNAL, "a gRPC client's status does not leak through as ours");
});
