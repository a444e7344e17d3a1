// machined's way into the API server on any node: the kubelet's own client
// certificate (system:node:<name>, group system:nodes), got by TLS bootstrap
// and rotated by the kubelet, with the cluster CA and the control plane
// endpoint. The Node authorizer lets it list and watch Nodes and create CSRs.
import { existsSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { MachineConfig } from "../../config/schema.js";
import { kubeletPaths } from "../../machinery/paths.js";
import type { Condition } from "../service.js";
import type { KubeConnection } from "../../machinery/kube-client.js";

/** The kubelet's connection: endpoint, CA, and the certificate and key from its one PEM file. */
export function kubeletConnection(config: MachineConfig, files: { cert: string; ca: string } = { cert: kubeletPaths.clientCert, ca: kubeletPaths.ca }): KubeConnection {
  const pem = readFileSync(files.cert, "utf8");
  const blocks = pem.match(/-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----\n?/g) ?? [];
  const cert = blocks.filter((b) => b.startsWith("-----BEGIN CERTIFICATE-----")).join("");
  const key = blocks.find((b) => /^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(b));
  if (!cert || !key) throw new Error(`${files.cert}: expected a certificate and a private key`);
  return { server: config.cluster?.controlPlane?.endpoint ?? "https://127.0.0.1:6443", ca: readFileSync(files.ca, "utf8"), cert, key };
}

/** Holds once the kubelet has its client certificate (after TLS bootstrap); polled every second. */
export const kubeletCredentialReady: Condition = {
  describe: "the kubelet's client certificate",
  wait: async (_m, signal) => {
    while (!existsSync(kubeletPaths.clientCert)) await sleep(1000, undefined, { signal });
  },
};
