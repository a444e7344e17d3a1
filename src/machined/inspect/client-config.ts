// GenerateClientConfiguration: a client certificate for some roles, signed
// by the machine CA from the current config, and a kilnconfig with one
// context that reaches this machine's apid.
import { isIP } from "node:net";
import { hostname } from "node:os";
import { type KilnContext, stringifyKilnconfig } from "../../config/kilnconfig.js";
import type { MachineConfig } from "../../config/schema.js";
import { apidPort } from "../../machinery/apid.js";
import { type CertAndKey, issueClientCert } from "../../pki/certs.js";
import { clientTtlProblem } from "../../pki/client-ttl.js";
import { decodeBase64Pem, encodeBase64Pem } from "../../pki/pem.js";
import { localAddresses } from "../apid-tls.js";
import { invalid, refused } from "../errors.js";
import type { ClientConfigRequest, ClientConfiguration } from "../machine.js";

/** Issues the certificate; refused without a config or a machine CA key, invalid over the longest lifetime (pki/client-ttl.ts). */
export async function generateClientConfiguration(
  config: MachineConfig | undefined,
  req: ClientConfigRequest,
  addresses: () => string[] = localAddresses,
): Promise<ClientConfiguration> {
  const tooLong = req.ttlMs > 0 ? clientTtlProblem(req.ttlMs) : undefined;
  if (tooLong) throw invalid(`crt_ttl: ${tooLong}`);
  if (!config) throw refused("no machine config: the machine is in maintenance mode and has no CA yet");
  const ca = machineCa(config);
  const issued = await issueClientCert(ca, { roles: req.roles, ...(req.ttlMs > 0 ? { ttlMs: req.ttlMs } : {}) });
  const name = config.cluster?.name ?? hostname();
  const context: KilnContext = { endpoints: endpointsOf(config, addresses()), nodes: [], ca: encodeBase64Pem(ca.crt), crt: encodeBase64Pem(issued.crt), key: encodeBase64Pem(issued.key) };
  return { ca: ca.crt, crt: issued.crt, key: issued.key, kilnconfig: stringifyKilnconfig({ context: name, contexts: { [name]: context } }) };
}

/** The machine CA as PEM; refused when the config lacks its key. */
function machineCa(config: MachineConfig): CertAndKey {
  const ca = config.machine.ca;
  if (!ca?.key) throw refused("the machine config has no machine CA key (machine.ca.key): this machine cannot issue certificates");
  return { crt: decodeBase64Pem(ca.crt), key: decodeBase64Pem(ca.key) };
}

/** apid endpoints clients can use: machine.certSANs, else the machine's non-loopback addresses. */
function endpointsOf(config: MachineConfig, addresses: string[]): string[] {
  const sans = config.machine.certSANs ?? [];
  const hosts = sans.length > 0 ? sans : addresses.filter((a) => a !== "127.0.0.1" && a !== "::1" && !a.startsWith("fe80:"));
  return hosts.map((h) => `${isIP(h) === 6 ? `[${h}]` : h}:${apidPort}`);
}
