// apid's TLS files, written by machined before each start of apid: in normal
// operation a server certificate and an os:impersonator client certificate
// issued from the config's machine CA, with the CA to verify clients; on a
// machine without the CA's key (a worker), the server certificate a control
// plane issued (src/machined/trust/) and no client certificate; in
// maintenance mode (no config yet) a fresh self-signed server certificate,
// whose fingerprint the operator can pin. Keys are 0600, everything is owned
// by apid's user, in a directory only that user can enter.
import { chownSync } from "node:fs";
import { chown, mkdir, open, rm } from "node:fs/promises";
import { join } from "node:path";
import type { MachineConfig } from "../config/schema.js";
import { apidTlsFiles as tlsFiles } from "../machinery/apid.js";
import { localAddresses } from "../machinery/local-addresses.js";
import { type CertAndKey, issueClientCert, issueServerCert, selfSigned } from "../pki/certs.js";
import { peersFileText } from "../machinery/peers.js";
import { deniedFileText } from "../pki/denied-certificates.js";
import { fingerprint } from "../pki/fingerprint.js";
import { decodeBase64Pem } from "../pki/pem.js";
import { writeFileAtomic } from "./atomic-write.js";
import type { IssuedServerCert } from "./trust/request.js";

/** The role of apid's own client certificate: it calls other apids for its callers. */
export const impersonatorRole = "os:impersonator";

export interface ApidTlsOptions {
  /** The directory apid reads (its --tls-dir); recreated empty. */
  dir: string;
  /** The machine config; undefined in maintenance mode. */
  config: MachineConfig | undefined;
  hostname: string;
  /** The machine's addresses (default: every local interface's). */
  addresses?: string[];
  /** Owner of the directory and files (apid's user); omitted when not root (tests). */
  owner?: { uid: number; gid: number };
  /** The server certificate a control plane issued, for a config without machine.ca's key. */
  issued?: IssuedServerCert;
  /** Written into the `complete` file, last: apid, started with it, waits for it there. Default "". */
  stamp?: string;
}

/** What was written: the names and addresses the server certificate holds; in maintenance mode, its SHA-256 fingerprint. */
export type ApidTls = { mode: "mtls"; sans: string[] } | { mode: "maintenance"; fingerprint: string; sans: string[] };

/** Writes apid's TLS files for the config, or self-signed ones in maintenance mode. */
export async function writeApidTls(o: ApidTlsOptions): Promise<ApidTls> {
  await freshDir(o.dir);
  const written = await writeFiles(o, apidSans(o.config, o.hostname, o.addresses ?? localAddresses()));
  await put(o, tlsFiles.complete, o.stamp ?? "", 0o644);
  // Handed over only once complete: until then apid's user cannot enter the directory.
  if (o.owner) await chown(o.dir, o.owner.uid, o.owner.gid);
  return written;
}

/** The files for the mode: self-signed server certificate, or server and client certificates from the machine CA. */
async function writeFiles(o: ApidTlsOptions, sans: string[]): Promise<ApidTls> {
  if (!o.config) {
    const cert = await selfSigned({ commonName: o.hostname, sans });
    await writeServer(o, cert);
    return { mode: "maintenance", fingerprint: fingerprint(cert.crt), sans };
  }
  if (o.config.machine.ca?.key) {
    const ca = machineCa(o.config);
    await writeServer(o, await issueServerCert(ca, { commonName: o.hostname, sans }));
    const client = await issueClientCert(ca, { roles: [impersonatorRole], commonName: `apid@${o.hostname}` });
    await put(o, tlsFiles.ca, ca.crt, 0o644);
    await put(o, tlsFiles.clientCert, client.crt, 0o644);
    await put(o, tlsFiles.clientKey, client.key, 0o600);
  } else {
    // No client certificate: this apid calls no other node (fan-out goes through a control plane).
    if (!o.issued) throw new Error("apid needs machine.ca's key, or a certificate a control plane issued for machine.token; it has neither");
    await writeServer(o, { crt: o.issued.crt, key: o.issued.key });
    await put(o, tlsFiles.ca, o.issued.ca, 0o644);
  }
  for (const [file, text] of apiListFiles(o.config)) await put(o, file, text, 0o644);
  return { mode: "mtls", sans };
}

/**
 * A new server certificate from the machine CA (the config must hold its
 * key) for the names and addresses the machine has now, for writeServerCert.
 */
export async function issueServerCertFor(o: { config: MachineConfig; hostname: string; addresses?: string[] }): Promise<{ cert: CertAndKey; sans: string[] }> {
  const sans = apidSans(o.config, o.hostname, o.addresses ?? localAddresses());
  return { cert: await issueServerCert(machineCa(o.config), { commonName: o.hostname, sans }), sans };
}

/**
 * Renames a server certificate into apid's live directory, the key first,
 * then the certificate, synchronously (a start's prepare never interleaves);
 * apid serves it without a restart (src/apid/certificate-reload.ts).
 */
export function writeServerCert(dir: string, cert: CertAndKey, owner?: { uid: number; gid: number }): void {
  replaceFile(dir, tlsFiles.key, cert.key, 0o600, owner);
  replaceFile(dir, tlsFiles.cert, cert.crt, 0o644, owner);
}

/** Renames `text` into place as dir/file, then gives it to apid's user. */
function replaceFile(dir: string, file: string, text: string, mode: number, owner?: { uid: number; gid: number }): void {
  const path = join(dir, file);
  writeFileAtomic(path, text, mode);
  if (owner) chownSync(path, owner.uid, owner.gid);
}

/** machine.api's lists as apid reads them: the denied client certificates and the peers. */
function apiListFiles(config: MachineConfig): [string, string][] {
  return [
    [tlsFiles.denied, deniedFileText(config.machine.api?.deniedCertificates ?? [])],
    [tlsFiles.peers, peersFileText(config.machine.api?.peers)],
  ];
}

/** Replaces apid's lists (denied certificates, peers); apid reads each again at its next call: applied live. */
export function writeApiLists(dir: string, config: MachineConfig, owner?: { uid: number; gid: number }): void {
  for (const [file, text] of apiListFiles(config)) replaceFile(dir, file, text, 0o644, owner);
}

/** Names and addresses in apid's certificate: machine.certSANs, the hostname, the machine's addresses, loopback. */
export function apidSans(config: MachineConfig | undefined, hostname: string, addresses: string[]): string[] {
  const all = [...(config?.machine.certSANs ?? []), hostname, ...addresses, "127.0.0.1", "::1", "localhost"];
  return [...new Set(all.filter((s) => s !== ""))];
}

export { localAddresses };

/** The machine CA (PEM) from the config, key included. */
function machineCa(config: MachineConfig): CertAndKey {
  const ca = config.machine.ca!;
  try {
    return { crt: decodeBase64Pem(ca.crt), key: decodeBase64Pem(ca.key!) };
  } catch (err) {
    throw new Error("reading machine.ca", { cause: err });
  }
}

/** Removes `dir` (links are removed, never followed) and creates it again, empty and 0700. */
async function freshDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/** The server certificate and its key. */
async function writeServer(o: ApidTlsOptions, cert: CertAndKey): Promise<void> {
  await put(o, tlsFiles.cert, cert.crt, 0o644);
  await put(o, tlsFiles.key, cert.key, 0o600);
}

/** Creates one file (never replacing one) with `mode`, owned by apid's user. */
async function put(o: ApidTlsOptions, name: string, data: string, mode: number): Promise<void> {
  const path = join(o.dir, name);
  try {
    const fh = await open(path, "wx", mode);
    try {
      if (o.owner) await fh.chown(o.owner.uid, o.owner.gid);
      await fh.writeFile(data);
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw new Error(`writing ${path}`, { cause: err });
  }
}
