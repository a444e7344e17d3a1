// kube-proxy-credential: kube-proxy's client certificate (CN=system:kube-proxy,
// which the default ClusterRoleBinding system:node-proxier binds to the
// system:node-proxier role and nothing more). Each node gets its own through
// a CSR it posts with the kubelet's credential; kiln's approver on the control
// planes approves it for an existing node (kubernetes/csr-approver.ts). Run
// inside machined: it writes the certificate, key (0600) and kube-proxy's
// kubeconfig, then sleeps until two thirds of the certificate's life and
// renews it. kube-proxy waits for it to be healthy (a valid certificate).
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { kubeProxyPaths as p } from "../../machinery/paths.js";
import { x509 } from "../../pki/x509.js";
import { writeFileAtomic } from "../atomic-write.js";
import { createKubeClient } from "../../machinery/kube-client.js";
import { requestClientCertificate } from "../kubernetes/client-csr.js";
import { kubeletConnection, kubeletCredentialReady } from "../kubernetes/kubelet-credential.js";
import type { MachineConfig } from "../../config/schema.js";
import type { ServiceDefinition } from "../service.js";
import { taskRunner } from "../supervisor/task-runner.js";
import { nodeName } from "./kubelet-config.js";
import { kubeProxyKubeconfig } from "./kube-proxy-config.js";

export const kubeProxyUser = "system:kube-proxy";

/** When a certificate valid from `notBefore` to `notAfter` should be renewed: at two thirds of its life. */
export function renewAt(notBefore: Date, notAfter: Date): Date {
  return new Date(notBefore.getTime() + ((notAfter.getTime() - notBefore.getTime()) * 2) / 3);
}

/** The stored certificate's renewal time, or undefined when there is none usable (missing, unreadable, another user, no key). */
export function storedRenewAt(files: { cert: string; key: string } = p): Date | undefined {
  if (!existsSync(files.cert) || !existsSync(files.key)) return undefined;
  try {
    const cert = new x509.X509Certificate(readFileSync(files.cert, "utf8"));
    if (cert.subjectName.getField("CN")[0] !== kubeProxyUser) return undefined;
    return renewAt(cert.notBefore, cert.notAfter);
  } catch {
    return undefined;
  }
}

/** The CSR posted and not yet issued, for the health check to name. */
let pendingCsr: string | undefined;

/** What to do about a CSR that waits: kiln's control planes approve it, another cluster's administrator must. */
export function pendingAdvice(name: string): string {
  return `CSR ${name} awaits approval: kiln's control planes approve it for a known node; on a control plane that is not kiln's, approve it with 'kubectl certificate approve ${name}'`;
}

/** Gets (or renews) the certificate whenever the stored one is due, until the signal aborts. */
async function keepCredential(config: MachineConfig, log: (line: string) => void, signal: AbortSignal): Promise<void> {
  mkdirSync(dirname(p.cert), { recursive: true, mode: 0o700 });
  writeFileAtomic(p.kubeconfig, kubeProxyKubeconfig(config), 0o600);
  for (;;) {
    const due = storedRenewAt();
    if (due && due.getTime() > Date.now()) {
      log(`kube-proxy's certificate is renewed at ${due.toISOString()}`);
      // setTimeout's limit is 2^31-1 ms (24.8 days): wake up, look again.
      await sleep(Math.min(due.getTime() - Date.now(), 2 ** 31 - 1), undefined, { signal });
      continue;
    }
    log(due ? "renewing kube-proxy's certificate" : "requesting kube-proxy's certificate (CSR, signer kubernetes.io/kube-apiserver-client)");
    const client = createKubeClient(kubeletConnection(config));
    try {
      const onPosted = (name: string) => {
        pendingCsr = name;
        log(pendingAdvice(name));
      };
      const got = await requestClientCertificate(client, { cn: kubeProxyUser, namePrefix: `kube-proxy-${nodeName(config, hostname())}-`, onPosted }, signal).finally(() => {
        pendingCsr = undefined;
      });
      writeFileAtomic(p.key, got.key, 0o600);
      writeFileAtomic(p.cert, got.cert, 0o600);
      log(`CSR ${got.name}: issued`);
    } finally {
      client.close();
    }
  }
}

export const kubeProxyCredential: ServiceDefinition = {
  id: "kube-proxy-credential",
  dependsOn: ["kubelet"],
  conditions: [kubeletCredentialReady],
  run: (m) => taskRunner(({ log, signal }) => keepCredential(m.config!, log, signal)),
  restart: "forever",
  // Healthy while the stored certificate is kube-proxy's and not yet expired.
  health: {
    check: async () => {
      if (!storedRenewAt()) throw new Error(`no certificate yet${pendingCsr ? `: ${pendingAdvice(pendingCsr)}` : ""}`);
      const cert = new x509.X509Certificate(readFileSync(p.cert, "utf8"));
      if (cert.notAfter.getTime() <= Date.now()) throw new Error(`the certificate expired at ${cert.notAfter.toISOString()}`);
    },
    intervalMs: 10_000,
    startPeriodMs: 3_600_000,
  },
};
