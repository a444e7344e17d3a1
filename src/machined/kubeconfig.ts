// `kilnctl kubeconfig`: a short-lived kubeconfig for the cluster's
// administrator, its client certificate (O=system:masters) signed by the
// Kubernetes CA. Only control planes hold that CA's key; a worker refuses,
// naming where to ask instead.
import { X509Certificate } from "node:crypto";
import { stringify } from "yaml";
import type { MachineConfig } from "../config/schema.js";
import { adminCommonName, adminContextName, adminGroup, adminKubeconfig, defaultClusterName, defaultKubeconfigTtlMs } from "../machinery/kubeconfig.js";
import { type CertAndKey, issueComponentCert } from "../pki/certs.js";
import { clientTtlProblem } from "../pki/client-ttl.js";
import { decodeBase64Pem } from "../pki/pem.js";
import { invalid, refused } from "./errors.js";

export interface KubeconfigRequest {
  /** The certificate's lifetime; 0 means the default, 24h. */
  ttlMs: number;
}

/** An issued admin kubeconfig and what a client shows of it. */
export interface AdminKubeconfig {
  /** The kubeconfig as YAML. */
  kubeconfig: string;
  context: string;
  cluster: string;
  server: string;
  expires: Date;
}

/** Issues the admin kubeconfig; invalid for a lifetime over one year, refused without the CA key or the endpoint. */
export async function issueKubeconfig(config: MachineConfig | undefined, req: KubeconfigRequest, now = new Date()): Promise<AdminKubeconfig> {
  const ttlMs = req.ttlMs === 0 ? defaultKubeconfigTtlMs : req.ttlMs;
  const tooLong = clientTtlProblem(ttlMs);
  if (tooLong) throw invalid(`crt_ttl: ${tooLong}`);
  if (!config) throw refused("this machine has no config yet (maintenance mode): ask a control-plane node (kilnctl -n CP kubeconfig)");
  const ca = clusterCa(config);
  const server = config.cluster?.controlPlane?.endpoint;
  if (!server) throw refused("cluster.controlPlane.endpoint is not set in this machine's config: the kubeconfig has no API server to name");
  const cluster = config.cluster?.name ?? defaultClusterName;
  const issued = await issueComponentCert(ca, { commonName: adminCommonName, organizations: [adminGroup], usages: ["client"], ttlMs, now });
  const doc = adminKubeconfig({ cluster, server, caPem: ca.crt, crtPem: issued.crt, keyPem: issued.key });
  const expires = new Date(new X509Certificate(issued.crt).validTo);
  return { kubeconfig: stringify(doc), context: adminContextName(cluster), cluster, server, expires };
}

/** The Kubernetes CA as PEM; refused when this machine lacks its key (a worker). */
function clusterCa(config: MachineConfig): CertAndKey {
  const ca = config.cluster?.ca;
  if (!ca?.key) throw refused("this machine holds no cluster CA key (cluster.ca.key): ask a control-plane node (kilnctl -n CP kubeconfig)");
  return { crt: decodeBase64Pem(ca.crt), key: decodeBase64Pem(ca.key) };
}
