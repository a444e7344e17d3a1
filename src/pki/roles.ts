// Roles ride in a client certificate's subject Organization (O) fields.
import { derOf } from "./pem.js";
import { x509 } from "./x509.js";

export { isRole, type Role, roles } from "./role-names.js";

/** Every Organization in the certificate's subject (PEM or DER), in order; apid decides which count. */
export function rolesOf(cert: string | Uint8Array): string[] {
  return new x509.X509Certificate(derOf(cert)).subjectName.getField("O");
}
