// etcd's flags and certificates on a control-plane machine: one member named
// after the node, serving clients and peers over TLS from cluster.etcd.ca,
// with /health on plain HTTP bound to loopback for machined's health check.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MachineConfig } from "../../config/schema.js";
import { etcdPaths } from "../../machinery/paths.js";
import { type CertAndKey, issueComponentCert } from "../../pki/certs.js";
import { decodeBase64Pem } from "../../pki/pem.js";

/** Where etcd keeps its data, mark and certificates, and its ports (etcdPaths; tests use their own). */
export interface EtcdPaths {
  dataDir: string;
  bootstrapMark: string;
  joinMark: string;
  pki: string;
  clientPort: number;
  peerPort: number;
  metricsPort: number;
}

/** Whether this node holds an etcd member already (its data directory has one). */
export function hasMember(p: Pick<EtcdPaths, "dataDir"> = etcdPaths): boolean {
  return existsSync(join(p.dataDir, "member"));
}

/** This node as an etcd member. */
export interface EtcdMember {
  /** The member's name: the node's hostname. */
  name: string;
  /** The address peers and clients reach it on. */
  address: string;
}

/** The files etcd's flags name, under `dir`. */
export function etcdFiles(dir: string = etcdPaths.pki) {
  return {
    ca: join(dir, "ca.crt"),
    serverCert: join(dir, "server.crt"),
    serverKey: join(dir, "server.key"),
    peerCert: join(dir, "peer.crt"),
    peerKey: join(dir, "peer.key"),
  };
}

/** "https://10.5.0.2:2379", IPv6 in brackets. */
export function url(address: string, port: number): string {
  return `https://${address.includes(":") ? `[${address}]` : address}:${port}`;
}

/**
 * How etcd starts: founding a new one-member cluster (the bootstrap), joining
 * the cluster whose members the join listed, or as the member its data
 * directory holds (initial-cluster flags are then not given: etcd ignores them).
 */
export type EtcdStart = { t: "found" } | { t: "join"; initialCluster: string } | { t: "member" };

/** etcd's argv for `member`, started as `start` says. */
export function etcdArgs(member: EtcdMember, start: EtcdStart, p: EtcdPaths = etcdPaths, files = etcdFiles(p.pki)): string[] {
  const peer = url(member.address, p.peerPort);
  const args = [
    `--name=${member.name}`,
    `--data-dir=${p.dataDir}`,
    `--listen-client-urls=${url("127.0.0.1", p.clientPort)},${url(member.address, p.clientPort)}`,
    `--advertise-client-urls=${url(member.address, p.clientPort)}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--listen-metrics-urls=http://127.0.0.1:${p.metricsPort}`,
    `--cert-file=${files.serverCert}`,
    `--key-file=${files.serverKey}`,
    `--trusted-ca-file=${files.ca}`,
    "--client-cert-auth=true",
    `--peer-cert-file=${files.peerCert}`,
    `--peer-key-file=${files.peerKey}`,
    `--peer-trusted-ca-file=${files.ca}`,
    "--peer-client-cert-auth=true",
    "--auto-compaction-retention=8",
    "--snapshot-count=10000",
  ];
  if (start.t === "found") args.push(`--initial-cluster=${member.name}=${peer}`, "--initial-cluster-state=new");
  if (start.t === "join") args.push(`--initial-cluster=${start.initialCluster}`, "--initial-cluster-state=existing");
  return args;
}

/** The etcd CA of `config`, decoded; undefined when it (or its key) is missing. */
export function etcdCa(config: MachineConfig | undefined): CertAndKey | undefined {
  const ca = config?.cluster?.etcd?.ca;
  return ca?.key ? { crt: decodeBase64Pem(ca.crt), key: decodeBase64Pem(ca.key) } : undefined;
}

/** Issues etcd's server and peer certificates for `member` from `ca` into `dir` (keys 0600). */
export async function writeEtcdCerts(ca: CertAndKey, member: EtcdMember, dir: string = etcdPaths.pki): Promise<void> {
  const sans = [member.name, member.address, "localhost", "127.0.0.1", "::1"];
  const [server, peer] = await Promise.all([
    issueComponentCert(ca, { commonName: member.name, sans, usages: ["server", "client"] }),
    issueComponentCert(ca, { commonName: member.name, sans, usages: ["server", "client"] }),
  ]);
  const f = etcdFiles(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(f.ca, ca.crt, { mode: 0o644 });
  writeFileSync(f.serverCert, server.crt, { mode: 0o644 });
  writeFileSync(f.serverKey, server.key, { mode: 0o600 });
  writeFileSync(f.peerCert, peer.crt, { mode: 0o644 });
  writeFileSync(f.peerKey, peer.key, { mode: 0o600 });
}
