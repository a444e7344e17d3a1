// apid's TLS: 1.3 only, the machine's server certificate, and (outside
// maintenance mode) client certificates required and verified against the
// machine CA. grpc-js's createSsl cannot pin the protocol version, so this
// passes Node's own TLS server options through grpc-js's credentials base.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { SecureServerOptions } from "node:http2";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import { ServerCredentials } from "@grpc/grpc-js";
import { apidTlsFiles as tlsFiles } from "../machinery/apid.js";

/** PEM material apid serves with; `ca` verifies clients (absent in maintenance mode). */
export interface ServerTls {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

/** grpc-js server credentials whose TLS options are Node's, verbatim; `replace` swaps the certificate of every server bound with them. */
export class NodeTlsServerCredentials extends ServerCredentials {
  override _equals(other: ServerCredentials): boolean {
    return other === this;
  }

  /** New connections get `tls`'s certificate; open ones keep theirs. `tls` must be a checked pair (checkPair). */
  replace(tls: ServerTls): void {
    this.updateSecureContextOptions(contextOptions(tls));
  }
}

/**
 * The secure context: the certificate and key, the CA, and TLS 1.3 only,
 * which Node's setSecureContext (how grpc-js applies `replace`) resets to
 * its default (TLS 1.2) unless it is given with the certificate again.
 */
function contextOptions(tls: ServerTls): SecureContextOptions {
  return { cert: tls.cert, key: tls.key, ...(tls.ca ? { ca: tls.ca } : {}), minVersion: "TLSv1.3" };
}

/** Throws unless `tls`'s key is the certificate's (a certificate read while machined was replacing the pair). */
export function checkPair(tls: ServerTls): void {
  createSecureContext(contextOptions(tls));
}

/** TLS 1.3 server credentials; with `tls.ca`, a verified client certificate is required. */
export function serverCredentials(tls: ServerTls): NodeTlsServerCredentials {
  const verify = tls.ca !== undefined;
  const server: SecureServerOptions = { requestCert: verify, rejectUnauthorized: verify };
  return new NodeTlsServerCredentials(server, contextOptions(tls));
}

/** Reads the server's TLS files from `dir`; the CA only when clients are verified. */
export async function readServerTls(dir: string, verifyClients: boolean): Promise<ServerTls> {
  const read = (name: string) => readFile(join(dir, name)).catch((err: unknown) => Promise.reject(new Error(`reading ${join(dir, name)}`, { cause: err })));
  const [cert, key] = await Promise.all([read(tlsFiles.cert), read(tlsFiles.key)]);
  return verifyClients ? { cert, key, ca: await read(tlsFiles.ca) } : { cert, key };
}

/** apid's identity toward other apids: an os:impersonator certificate and the CA that verifies them. */
export type ClientTls = Required<ServerTls>;

/** Reads apid's client identity, if machined issued one. */
export async function readClientTls(dir: string): Promise<ClientTls | undefined> {
  try {
    const [cert, key, ca] = await Promise.all([tlsFiles.clientCert, tlsFiles.clientKey, tlsFiles.ca].map((f) => readFile(join(dir, f))));
    return { cert: cert!, key: key!, ca: ca! };
  } catch {
    return undefined;
  }
}
