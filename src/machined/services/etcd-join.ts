// A control plane that was not bootstrapped joins the cluster's etcd by
// itself. It finds the members that answer: the API servers the Kubernetes
// API lists at cluster.controlPlane.endpoint (the `kubernetes` Endpoints, so
// a load-balanced endpoint works), else the endpoint's own host. It removes a
// stale member with its own peer URL (a node that was reset), adds itself as
// a learner, and records the join in a mark on EPHEMERAL before etcd first
// starts. etcd then starts with the initial cluster the add returned, and is
// healthy only once promoted to a voting member (promoteSelf, called by
// etcd's health check in etcd.ts): a learner does not count toward quorum,
// so a join that never completes cannot cost the cluster its majority.
import { endpointHost } from "../../machinery/endpoint.js";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { MachineConfig } from "../../config/schema.js";
import { createKubeClient } from "../../machinery/kube-client.js";
import { adminGroup } from "../../machinery/kubeconfig.js";
import { etcdPaths } from "../../machinery/paths.js";
import { notBootstrapped } from "../../machinery/skip-reasons.js";
import { type CertAndKey, issueComponentCert } from "../../pki/certs.js";
import { decodeBase64Pem } from "../../pki/pem.js";
import { localAddresses } from "../apid-tls.js";
import type { Condition, MachineContext } from "../service.js";
import { sleep } from "../supervisor/wait.js";
import { type EtcdMember, type EtcdPaths, etcdCa, hasMember, url } from "./etcd-config.js";
import { etcdClientCert, type EtcdMemberInfo, type EtcdMembers, etcdMembers, initialCluster } from "./etcd-members.js";

/** What the join recorded: etcd's flags for its first start, where to promote it, and whether that was done. */
export interface JoinMark {
  joinedAt: string;
  memberId: string;
  initialCluster: string;
  /** The other members' client URLs, for the promotion. */
  clientURLs: string[];
  promoted: boolean;
}

export function readJoinMark(p: Pick<EtcdPaths, "joinMark"> = etcdPaths): JoinMark | undefined {
  if (!existsSync(p.joinMark)) return undefined;
  try {
    return JSON.parse(readFileSync(p.joinMark, "utf8")) as JoinMark;
  } catch (err) {
    throw new Error(`reading etcd's join mark ${p.joinMark}`, { cause: err });
  }
}

export function writeJoinMark(mark: JoinMark, p: EtcdPaths = etcdPaths): void {
  mkdirSync(dirname(p.joinMark), { recursive: true });
  writeFileSync(p.joinMark, `${JSON.stringify(mark)}\n`);
}

/** Where the cluster's etcd may answer, other than this node: the API servers' addresses, then the endpoint's host. */
export async function etcdCandidates(config: MachineConfig, own: string[], p: Pick<EtcdPaths, "clientPort"> = etcdPaths): Promise<string[]> {
  const endpoint = config.cluster?.controlPlane?.endpoint;
  if (!endpoint) return [];
  const hosts = [...(await apiServerAddresses(config, endpoint).catch(() => [])), endpointHost(endpoint)];
  return [...new Set(hosts)].filter((h) => !own.includes(h)).map((h) => url(h, p.clientPort));
}

/** The addresses in the `kubernetes` Endpoints: every API server of the cluster. */
async function apiServerAddresses(config: MachineConfig, endpoint: string): Promise<string[]> {
  const ca = config.cluster?.ca;
  if (!ca?.key) return [];
  const clusterCa = { crt: decodeBase64Pem(ca.crt), key: decodeBase64Pem(ca.key) };
  const client = await issueComponentCert(clusterCa, { commonName: "kiln:etcd-join", organizations: [adminGroup], usages: ["client"], ttlMs: 10 * 60_000 });
  const kube = createKubeClient({ server: endpoint, ca: clusterCa.crt, cert: client.crt, key: client.key, timeoutMs: 5000 });
  try {
    const ep = await kube.get<{ subsets?: { addresses?: { ip: string }[] }[] }>("/api/v1/namespaces/default/endpoints/kubernetes");
    return (ep.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip));
  } finally {
    kube.close();
  }
}

/** What a search for the cluster's etcd found: a member that answered (and the members it listed), or why none did. */
export type FoundEtcd = { members: EtcdMembers; listed: EtcdMemberInfo[] } | { why: string };

/** The first candidate whose etcd lists its members, with a reason per candidate that did not. */
export async function findEtcd(candidates: string[], ca: CertAndKey): Promise<FoundEtcd> {
  if (candidates.length === 0) return { why: "cluster.controlPlane.endpoint names no other node" };
  const client = await etcdClientCert(ca, "kiln:etcd-join");
  const why: string[] = [];
  for (const endpoint of candidates) {
    const members = etcdMembers(endpoint, ca, client);
    try {
      return { members, listed: await members.list() };
    } catch (err) {
      members.close();
      why.push(`${endpoint}: ${(err as Error).message}`);
    }
  }
  return { why: why.join("; ") };
}

/** The cluster's etcd as `config` leads to it from a node with addresses `own` (the bootstrap's check and the join share this). */
export async function findClusterEtcd(config: MachineConfig | undefined, own: string[], p: Pick<EtcdPaths, "clientPort"> = etcdPaths): Promise<FoundEtcd> {
  const ca = etcdCa(config);
  if (!config || !ca) return { why: "no cluster.etcd.ca in the config" };
  return findEtcd(await etcdCandidates(config, own, p), ca);
}

/** Adds this node to the cluster `members` talks to as a learner, after removing a stale member with its peer URL. */
export async function addSelf(members: EtcdMembers, self: EtcdMember, p: EtcdPaths = etcdPaths, now = new Date()): Promise<JoinMark> {
  const peer = url(self.address, p.peerPort);
  const stale = (await members.list()).filter((m) => m.peerURLs?.includes(peer));
  for (const m of stale) await members.remove(m.ID);
  const { added, members: all } = await members.addLearner(peer).catch(async (err: Error) => {
    // etcd 3.4 derives a new member's id from its peer URLs and the current second: an add within the second of
    // the stale member's own add gets that removed id back and fails as "member not found". The next second does not.
    if (stale.length === 0 || !/member not found/.test(err.message)) throw err;
    await sleep(1100);
    return members.addLearner(peer);
  });
  const clientURLs = all.flatMap((m) => (m.ID === added.ID ? [] : (m.clientURLs ?? [])));
  const mark: JoinMark = { joinedAt: now.toISOString(), memberId: added.ID, initialCluster: initialCluster(all, added, self.name), clientURLs: clientURLs.length ? clientURLs : [members.endpoint], promoted: false };
  writeJoinMark(mark, p);
  return mark;
}

/** Whether this node's etcd has its start: founded here, joined, or a member already. */
export function etcdDecided(p: EtcdPaths = etcdPaths): boolean {
  return hasMember(p) || existsSync(p.bootstrapMark) || existsSync(p.joinMark);
}

/**
 * etcd's condition on a control plane: this node was bootstrapped, holds a
 * member, or joined the cluster founded elsewhere. Until then it looks for
 * that cluster every `everyMs` (and for the bootstrap mark every second),
 * noting in the Waiting message why no cluster was joined yet.
 */
export function etcdJoined(member: (m: MachineContext) => EtcdMember, p: EtcdPaths = etcdPaths, everyMs = 10_000): Condition {
  return {
    describe: `the cluster's etcd (${notBootstrapped}: run \`kilnctl bootstrap\` on one control-plane node; the others join its cluster by themselves)`,
    wait: async (m, signal, note) => {
      let next = 0;
      while (!etcdDecided(p)) {
        if (signal.aborted) throw signal.reason;
        if (Date.now() >= next) {
          next = Date.now() + everyMs;
          const why = await tryJoin(m, member(m), p).catch((err: Error) => `joining: ${err.message}`);
          if (why) note?.(why);
        }
        await sleep(1000, signal);
      }
    },
  };
}

/** One attempt: undefined once joined, else why not. */
async function tryJoin(m: MachineContext, self: EtcdMember, p: EtcdPaths): Promise<string | undefined> {
  const found = await findClusterEtcd(m.config, localAddresses(), p);
  if ("why" in found) return `no cluster found yet (${found.why})`;
  try {
    // A bootstrap may have come while the cluster was looked for.
    if (etcdDecided(p)) return undefined;
    await addSelf(found.members, self, p);
    return undefined;
  } finally {
    found.members.close();
  }
}

/**
 * Promotes this node's learner to a voting member, through the members the
 * join found; etcd refuses until the learner has caught up with the leader.
 * Throws while it stays a learner. Done once: the mark records it.
 */
export async function promoteSelf(config: MachineConfig | undefined, mark: JoinMark, p: EtcdPaths = etcdPaths): Promise<void> {
  const ca = etcdCa(config);
  if (!ca) throw new Error("no cluster.etcd.ca in the config to promote this learner with");
  const client = await etcdClientCert(ca, "kiln:etcd-join");
  const why: string[] = [];
  for (const endpoint of mark.clientURLs) {
    const members = etcdMembers(endpoint, ca, client);
    try {
      await members.promote(mark.memberId);
      writeJoinMark({ ...mark, promoted: true }, p);
      return;
    } catch (err) {
      const message = (err as Error).message;
      // Promoted already (the mark was not rewritten): a voting member is what was wanted.
      if (/can only promote a learner member(?! which)/.test(message)) return void writeJoinMark({ ...mark, promoted: true }, p);
      why.push(`${endpoint}: ${message}`);
    } finally {
      members.close();
    }
  }
  throw new Error(`this member is a learner (not voting) until promoted; the promotion was refused: ${why.join("; ")}`);
}
