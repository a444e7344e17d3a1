// The gate every call passes first: in maintenance mode the two served RPCs,
// otherwise a verified client certificate whose role the table allows.
import type { Metadata } from "@grpc/grpc-js";
import { ApiError, Code } from "../grpc/errors.js";
import { authorize, authorizeMaintenance, type Decision } from "./authorization.js";
import type { DeniedCertificates } from "./denied-certificates.js";
import { type Caller, callerOf, identityOf } from "./identity.js";
import { type AuthContextCall, peerCertificate } from "./peer.js";

/** maintenance: TLS without client certificates, no config yet; mtls: normal operation. */
export type Mode = "maintenance" | "mtls";

/** What admission reads from a grpc-js server call. */
export interface IncomingCall extends AuthContextCall {
  metadata: Metadata;
}

/** Admits a call to `path` or throws PERMISSION_DENIED (also for a `denied` certificate); maintenance callers have no role. */
export function admit(mode: Mode, call: IncomingCall, path: string, denied?: DeniedCertificates): Caller | undefined {
  if (mode === "maintenance") return void allowed(authorizeMaintenance(path));
  const cert = peerCertificate(call);
  const id = identityOf(cert);
  if ("error" in id) throw new ApiError(Code.PERMISSION_DENIED, id.error);
  const refusal = cert && denied?.check(cert);
  if (refusal) throw new ApiError(Code.PERMISSION_DENIED, refusal);
  const caller = callerOf(id.value, call.metadata);
  if ("error" in caller) throw new ApiError(Code.PERMISSION_DENIED, caller.error);
  allowed(authorize(caller.value.role, path));
  return caller.value;
}

/** Throws PERMISSION_DENIED with the decision's message when it denies. */
function allowed(d: Decision): void {
  if (d.t === "deny") throw new ApiError(Code.PERMISSION_DENIED, d.message);
}
