// The one place @peculiar/x509 is loaded, on first use rather than with the
// bundle: it was ~20 % of machined's top level (~0.4 s of a boot under TCG),
// and a boot first needs it for apid's certificate, made while apid's node
// starts. reflect-metadata first (its dependency injection needs it), then
// Node's WebCrypto as its provider. Types come from `import type`.
import { webcrypto } from "node:crypto";
import { createRequire } from "node:module";
import type * as X509 from "@peculiar/x509";

let loaded: typeof X509 | undefined;

/** The library, loaded now. In a bundle (CommonJS) esbuild makes these require calls modules initialised on first call; under tsx (ESM) node resolves them. */
function load(): typeof X509 {
  let lib: typeof X509;
  if (typeof require === "function") {
    require("reflect-metadata");
    lib = require("@peculiar/x509");
  } else {
    const req = createRequire(import.meta.url);
    req("reflect-metadata");
    lib = req("@peculiar/x509");
  }
  lib.cryptoProvider.set(webcrypto);
  return lib;
}

/** @peculiar/x509, loaded the first time one of its names is read. */
export const x509: typeof X509 = new Proxy({} as typeof X509, {
  get: (_target, name) => {
    loaded ??= load();
    return loaded[name as keyof typeof X509];
  },
});

/** WebCrypto's subtle API, as the rest of src/pki uses it. */
export const subtle = webcrypto.subtle;
