// The one place @peculiar/x509 is loaded: reflect-metadata first (its
// dependency injection needs it), then Node's WebCrypto as its provider.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto);

export { x509 };

/** WebCrypto's subtle API, as the rest of src/pki uses it. */
export const subtle = webcrypto.subtle;
