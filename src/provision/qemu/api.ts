// Talking to a VM's apid through the forwarded port. With the config's
// machine CA the provisioner issues itself a short-lived admin certificate
// and speaks real mTLS; without one (maintenance mode) it uses TLS without
// authentication, which is all maintenance mode serves.
import { MachineService } from "../../gen/kiln/machine/v1/machine_pb.js";
import { createClient } from "../../grpc/client.js";
import { issueClientCert } from "../../pki/certs.js";
import { decodeBase64Pem } from "../../pki/pem.js";
import { type ClientTls, grpcCredentials } from "../../pki/tls-client.js";
import type { MachineConfig } from "../../config/schema.js";
import { sleep } from "../sandbox/sleep.js";
import { apidPort } from "../../machinery/apid.js";

/** How the provisioner reaches apid: the CA and key from the config, or none (maintenance). */
export type ApidAccess = { t: "mtls"; ca: string; caKey: string } | { t: "insecure" };

/** Access from a parsed config: mTLS when it carries the machine CA with its key. */
export function accessFor(config: MachineConfig | undefined): ApidAccess {
  const ca = config?.machine.ca;
  if (ca?.key) return { t: "mtls", ca: decodeBase64Pem(ca.crt), caKey: decodeBase64Pem(ca.key) };
  return { t: "insecure" };
}

/** Where apid answers: a port forwarded on 127.0.0.1, or a VM's own address (port 50000). */
export type ApidTarget = number | { address: string };

async function client(target: ApidTarget, access: ApidAccess) {
  const host = typeof target === "number" ? "127.0.0.1" : target.address;
  const port = typeof target === "number" ? target : apidPort;
  let tls: ClientTls;
  if (access.t === "mtls") {
    const identity = await issueClientCert({ crt: access.ca, key: access.caKey }, { roles: ["os:admin"], commonName: "kiln-provisioner", ttlMs: 3_600_000 });
    tls = { host, trust: { t: "ca", ca: access.ca }, identity };
  } else {
    tls = { host, trust: { t: "any" } };
  }
  const grpc = grpcCredentials(tls);
  return createClient(MachineService, `${host}:${port}`, grpc.credentials, grpc.options);
}

/** Resolves with whether the machine is in maintenance mode once Version answers. */
export async function pingApid(port: ApidTarget, access: ApidAccess, timeoutMs = 3000): Promise<{ maintenance: boolean }> {
  const c = await client(port, access);
  try {
    const v = await c.version({}, { timeoutMs });
    return { maintenance: v.messages[0]?.maintenance ?? false };
  } finally {
    c.close();
  }
}

/** Asks the machine to power off; a connection dropped by the shutdown counts as success. */
export async function shutdownApid(port: ApidTarget, access: ApidAccess, timeoutMs = 5000): Promise<void> {
  const c = await client(port, access);
  try {
    await c.shutdown({ force: false }, { timeoutMs });
  } finally {
    c.close();
  }
}

export interface WaitOptions {
  timeoutMs: number;
  /** Why waiting is pointless (QEMU died, stage 1 failed), or undefined to go on. */
  gone: () => string | undefined;
  /** Wait for mTLS to answer, not maintenance mode (the config should have applied). */
  wantConfigured: boolean;
}

/** Polls Version until apid answers as wanted; throws on timeout or when `gone` says so. */
export async function waitForApid(port: ApidTarget, access: ApidAccess, o: WaitOptions): Promise<{ maintenance: boolean }> {
  const deadline = Date.now() + o.timeoutMs;
  let last: unknown;
  for (;;) {
    const got = await pingApid(port, access).catch((err: unknown) => {
      last = err;
      // Without the CA (a config the machine fetched itself), apid asking for a
      // client certificate is the sign it is up and configured.
      return access.t === "insecure" && /certificate required/.test(String(err)) ? { maintenance: false } : undefined;
    });
    if (got && (!o.wantConfigured || !got.maintenance)) return got;
    if (got) last = new Error("the machine is in maintenance mode: its config did not apply (see the console log)");
    const why = o.gone();
    if (why) throw new Error(why, { cause: last });
    if (Date.now() > deadline) throw new Error(`apid did not answer within ${Math.round(o.timeoutMs / 1000)} s`, { cause: last });
    await sleep(500);
  }
}
