// The etcd cluster's membership, through etcd's own JSON gateway on its
// client port (HTTPS, a client certificate from cluster.etcd.ca): list, add
// a learner, promote it, remove a member. etcd 3.4 (Debian's) serves these at
// /v3/cluster/member/*; member ids are 64-bit and travel as strings.
import { createKubeClient, type KubeClient } from "../../machinery/kube-client.js";
import { type CertAndKey, issueComponentCert } from "../../pki/certs.js";

/** One member as etcd lists it; a member added but not started yet has no name. */
export interface EtcdMemberInfo {
  ID: string;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
  isLearner?: boolean;
}

interface MembersResponse {
  members?: EtcdMemberInfo[];
}

interface AddResponse extends MembersResponse {
  member?: EtcdMemberInfo;
}

export interface EtcdMembers {
  /** The client URL this talks to. */
  endpoint: string;
  list(): Promise<EtcdMemberInfo[]>;
  /** Adds a learner (a non-voting member until promoted) with `peerURL`; returns it and every member after the add. */
  addLearner(peerURL: string): Promise<{ added: EtcdMemberInfo; members: EtcdMemberInfo[] }>;
  /** Makes learner `id` a voting member; etcd refuses while it has not caught up with the leader. */
  promote(id: string): Promise<void>;
  remove(id: string): Promise<void>;
  close(): void;
}

/** A client certificate for etcd's gateway, from the etcd CA; short-lived, one per use. */
export function etcdClientCert(ca: CertAndKey, commonName: string): Promise<CertAndKey> {
  return issueComponentCert(ca, { commonName, usages: ["client"], ttlMs: 10 * 60_000 });
}

/** Membership calls to the member at `endpoint` (e.g. "https://10.5.0.2:2379"). */
export function etcdMembers(endpoint: string, ca: CertAndKey, client: CertAndKey, timeoutMs = 5000): EtcdMembers {
  const c: KubeClient = createKubeClient({ server: endpoint, ca: ca.crt, cert: client.crt, key: client.key, timeoutMs });
  return {
    endpoint,
    list: async () => (await c.post<MembersResponse>("/v3/cluster/member/list", {})).members ?? [],
    addLearner: async (peerURL) => {
      const r = await c.post<AddResponse>("/v3/cluster/member/add", { peerURLs: [peerURL], isLearner: true });
      if (!r.member?.ID) throw new Error(`${endpoint}: the member add answered without the new member`);
      return { added: r.member, members: r.members ?? [] };
    },
    promote: async (id) => void (await c.post("/v3/cluster/member/promote", { ID: id })),
    remove: async (id) => void (await c.post("/v3/cluster/member/remove", { ID: id })),
    close: () => c.close(),
  };
}

/** etcd's --initial-cluster for a joining member named `self`: every member's name (the new one's is not known to etcd yet) and peer URLs. */
export function initialCluster(members: EtcdMemberInfo[], added: EtcdMemberInfo, self: string): string {
  return members
    .flatMap((m) => {
      // A member added elsewhere and not started yet has no name; etcd compares peer URLs, so any unique name serves.
      const name = m.ID === added.ID ? self : m.name || `unstarted-${m.ID}`;
      return (m.peerURLs ?? []).map((u) => `${name}=${u}`);
    })
    .join(",");
}
