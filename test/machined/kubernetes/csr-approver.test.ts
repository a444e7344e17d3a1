import t from "tap";
import type { KubeClient, KubeList } from "../../../src/machinery/kube-client.js";
import {
  approval,
  type CertificateSigningRequest,
  type CsrContents,
  decide,
  decided,
  type Node,
  normalizeIp,
  parseCsrRequest,
  requestingNode,
  runCsrApprover,
} from "../../../src/machined/kubernetes/csr-approver.js";
import { clientUsages, csrObject, pkcs10, servingUsages } from "../../fixtures/kubernetes/csr.js";

const serving = "kubernetes.io/kubelet-serving";
const apiClient = "kubernetes.io/kube-apiserver-client";
const asNode = (name: string) => ({ username: `system:node:${name}`, groups: ["system:nodes", "system:authenticated"] });
const n1: Node = {
  metadata: { name: "n1" },
  status: {
    addresses: [
      { type: "Hostname", address: "n1" },
      { type: "InternalIP", address: "10.0.0.1" },
      { type: "InternalIP", address: "fd00::1" },
    ],
  },
};

/** The decision for a CSR built from these parts. */
async function decideFor(o: { cn: string; o?: string[]; sans?: string[] }, signer: string, usages: string[], who: { username?: string; groups?: string[] }, node: Node | null = n1) {
  const csr = csrObject("x", signer, await pkcs10(o), usages, who);
  const parsed = parseCsrRequest(csr.spec.request);
  if ("error" in parsed) throw new Error(parsed.error);
  return decide(csr, parsed.value, node ?? undefined);
}

const nodeSubject = { cn: "system:node:n1", o: ["system:nodes"] };

t.test("approves a node's serving certificate for its own name and addresses", async (t) => {
  const d = await decideFor({ ...nodeSubject, sans: ["n1", "10.0.0.1", "fd00:0:0::1"] }, serving, servingUsages, asNode("n1"));
  t.equal(d.t, "approve");
  t.match(d, { message: /node n1/ });
});

t.test("approves serving usages that are a subset (an ECDSA key's: no key encipherment)", async (t) => {
  const d = await decideFor({ ...nodeSubject, sans: ["10.0.0.1"] }, serving, ["digital signature", "server auth"], asNode("n1"));
  t.equal(d.t, "approve");
});

t.test("leaves a serving certificate that names a foreign IP, DNS name or email", async (t) => {
  t.match(await decideFor({ ...nodeSubject, sans: ["n1", "10.0.0.9"] }, serving, servingUsages, asNode("n1")), { t: "leave", reason: /10\.0\.0\.9/ });
  t.match(await decideFor({ ...nodeSubject, sans: ["evil.example"] }, serving, servingUsages, asNode("n1")), { t: "leave", reason: /evil\.example/ });
  t.match(await decideFor({ ...nodeSubject, sans: ["n1", "email:a@b.c"] }, serving, servingUsages, asNode("n1")), { t: "leave", reason: /email/ });
  t.match(await decideFor(nodeSubject, serving, servingUsages, asNode("n1")), { t: "leave", reason: /no DNS or IP SAN/ });
});

t.test("leaves a serving certificate for another node's name, or with the wrong subject", async (t) => {
  t.match(await decideFor({ cn: "system:node:n2", o: ["system:nodes"], sans: ["10.0.0.1"] }, serving, servingUsages, asNode("n1")), { t: "leave", reason: /expected CN=system:node:n1/ });
  t.match(await decideFor({ cn: "system:node:n1", sans: ["10.0.0.1"] }, serving, servingUsages, asNode("n1")), { t: "leave", reason: /O=system:nodes/ });
  t.match(await decideFor({ cn: "system:node:n1", o: ["system:nodes", "system:masters"], sans: ["10.0.0.1"] }, serving, servingUsages, asNode("n1")), { t: "leave" });
});

t.test("leaves a serving certificate when the requester is not a node, not in system:nodes, or has no Node", async (t) => {
  const sans = ["10.0.0.1"];
  t.match(await decideFor({ ...nodeSubject, sans }, serving, servingUsages, { username: "alice", groups: ["system:nodes"] }), { t: "leave", reason: /not a node/ });
  t.match(await decideFor({ ...nodeSubject, sans }, serving, servingUsages, { username: "system:node:n1", groups: [] }), { t: "leave", reason: /system:nodes/ });
  t.match(await decideFor({ ...nodeSubject, sans }, serving, servingUsages, asNode("n1"), null), { t: "leave", reason: /no Node n1/ });
});

t.test("leaves a serving certificate with client auth or without server auth", async (t) => {
  const sans = ["10.0.0.1"];
  t.match(await decideFor({ ...nodeSubject, sans }, serving, [...servingUsages, "client auth"], asNode("n1")), { t: "leave", reason: /client auth/ });
  t.match(await decideFor({ ...nodeSubject, sans }, serving, ["digital signature"], asNode("n1")), { t: "leave", reason: /lack server auth/ });
});

t.test("approves kube-proxy's client certificate requested by a node", async (t) => {
  t.match(await decideFor({ cn: "system:kube-proxy" }, apiClient, clientUsages, asNode("n1")), { t: "approve", message: /kube-proxy/ });
  t.match(await decideFor({ cn: "system:kube-proxy" }, apiClient, ["client auth"], asNode("n1")), { t: "approve" });
});

t.test("leaves a kube-proxy certificate from a non-node, with an O, SANs, or server auth", async (t) => {
  t.match(await decideFor({ cn: "system:kube-proxy" }, apiClient, clientUsages, { username: "bob" }), { t: "leave", reason: /not a node/ });
  t.match(await decideFor({ cn: "system:kube-proxy" }, apiClient, clientUsages, { username: "system:node:n1", groups: [] }), { t: "leave", reason: /system:nodes/ });
  t.match(await decideFor({ cn: "system:kube-proxy", o: ["system:masters"] }, apiClient, clientUsages, asNode("n1")), { t: "leave", reason: /subject/ });
  t.match(await decideFor({ cn: "system:kube-proxy", sans: ["n1"] }, apiClient, clientUsages, asNode("n1")), { t: "leave", reason: /no SANs/ });
  t.match(await decideFor({ cn: "system:kube-proxy" }, apiClient, [...clientUsages, "server auth"], asNode("n1")), { t: "leave", reason: /server auth/ });
  t.match(await decideFor({ cn: "admin" }, apiClient, clientUsages, asNode("n1")), { t: "leave", reason: /expected CN=system:kube-proxy/ });
});

t.test("leaves other signers, even for a node", async (t) => {
  t.match(await decideFor(nodeSubject, "kubernetes.io/kube-apiserver-client-kubelet", clientUsages, asNode("n1")), { t: "leave", reason: /signer/ });
  t.match(await decideFor(nodeSubject, "example.com/anything", clientUsages, asNode("n1")), { t: "leave", reason: /signer/ });
});

t.test("a request that is not a PEM CSR is an error value", async (t) => {
  t.match(parseCsrRequest(Buffer.from("hello").toString("base64")), { error: /not a PEM certificate request/ });
});

t.test("parses subject and SANs by kind", async (t) => {
  const r = parseCsrRequest(Buffer.from(await pkcs10({ cn: "a", o: ["g"], sans: ["h", "10.1.2.3", "email:x@y.z"] })).toString("base64"));
  t.same(r, {
    value: {
      subject: [
        { type: "O", value: "g" },
        { type: "CN", value: "a" },
      ],
      dns: ["h"],
      ips: ["10.1.2.3"],
      otherSans: ["email:x@y.z"],
    } satisfies CsrContents,
  });
});

t.test("the requesting node comes from system:node:<name> only", async (t) => {
  const csr = (username?: string) => csrObject("x", serving, "", [], { username });
  t.equal(requestingNode(csr("system:node:n1")), "n1");
  t.equal(requestingNode(csr("system:node:")), undefined);
  t.equal(requestingNode(csr("system:nodes")), undefined);
  t.equal(requestingNode(csr(undefined)), undefined);
});

t.test("IPv6 addresses compare in any spelling", async (t) => {
  t.equal(normalizeIp("fd00::1"), "fd00:0000:0000:0000:0000:0000:0000:0001");
  t.equal(normalizeIp("FD00:0:0:0:0:0:0:1"), normalizeIp("fd00::1"));
  t.equal(normalizeIp("::"), "0000:0000:0000:0000:0000:0000:0000:0000");
  t.equal(normalizeIp("::ffff:10.0.0.1"), "0000:0000:0000:0000:0000:ffff:0a00:0001");
  t.equal(normalizeIp("10.0.0.1"), "10.0.0.1");
});

t.test("the approval adds an Approved condition with reason KilnApprove and counts as decided", async (t) => {
  const csr: CertificateSigningRequest = csrObject("x", serving, "", []);
  t.notOk(decided(csr));
  const a = approval(csr, "why", new Date(0));
  t.same(a.status?.conditions, [{ type: "Approved", status: "True", reason: "KilnApprove", message: "why", lastUpdateTime: "1970-01-01T00:00:00.000Z" }]);
  t.ok(decided(a));
  t.ok(decided({ ...csr, status: { conditions: [{ type: "Denied" }] } }));
});

t.test("the loop reconnects after an error, approves what it lists, and stops on its signal", async (t) => {
  const good = csrObject("good", apiClient, await pkcs10({ cn: "system:kube-proxy" }), clientUsages, asNode("n1"));
  const bad = csrObject("bad", apiClient, await pkcs10({ cn: "system:kube-proxy" }), clientUsages, { username: "bob" });
  const ac = new AbortController();
  const put: string[] = [];
  let lists = 0;
  const client = {
    list: async () => {
      if (++lists === 1) throw new Error("connection refused");
      return { metadata: { resourceVersion: "7" }, items: [bad, good] } satisfies KubeList<CertificateSigningRequest>;
    },
    getOptional: async (path: string) => (path === "/api/v1/nodes/n1" ? n1 : undefined),
    put: async (path: string) => {
      put.push(path);
      ac.abort();
      return {};
    },
    watch: async function* () {},
  } as unknown as KubeClient;
  const log: string[] = [];
  await runCsrApprover(client, ac.signal, { log: (l) => log.push(l), minBackoffMs: 10 });
  t.same(put, ["/apis/certificates.k8s.io/v1/certificatesigningrequests/good/approval"]);
  t.match(log, [/connection refused; again in 10 ms/, /csr bad: left pending for an admin: requested by bob, not a node/, /csr good: approved/]);
});

t.test("a CSR left for want of its Node is approved when the Node watch brings that Node, not at the next list", async (t) => {
  const proxy = csrObject("proxy", apiClient, await pkcs10({ cn: "system:kube-proxy" }), clientUsages, asNode("n1"));
  const ac = new AbortController();
  let registered = false;
  const lists: string[] = [];
  const put: string[] = [];
  const log: string[] = [];
  /** Yields `events` once the approver has looked at the CSR, then holds the watch open until the round ends. */
  async function* held<T>(signal: AbortSignal | undefined, events: () => T[]) {
    const deadline = Date.now() + 10_000;
    while (!log.some((l) => l.includes("no Node n1 (yet)"))) {
      if (Date.now() > deadline) throw new Error(`the CSR was not left for want of its Node within 10 s: ${log.join("; ")}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    registered = true;
    yield* events();
    if (!signal?.aborted) await new Promise((r) => signal?.addEventListener("abort", r, { once: true }));
  }
  const client = {
    list: async (path: string) => {
      lists.push(path);
      return { metadata: { resourceVersion: "1" }, items: path.endsWith("certificatesigningrequests") ? [proxy] : [] };
    },
    getOptional: async (path: string) => (path === "/api/v1/nodes/n1" && registered ? n1 : undefined),
    put: async (path: string) => {
      put.push(path);
      ac.abort();
      return {};
    },
    watch: (path: string, _rv: string, signal?: AbortSignal) =>
      path === "/api/v1/nodes" ? held(signal, () => [{ type: "ADDED", object: n1 }]) : held(signal, () => []),
  } as unknown as KubeClient;
  await runCsrApprover(client, ac.signal, { log: (l) => log.push(l) });
  t.same(put, ["/apis/certificates.k8s.io/v1/certificatesigningrequests/proxy/approval"], "approved once the Node was added");
  t.same(lists.sort(), ["/api/v1/nodes", "/apis/certificates.k8s.io/v1/certificatesigningrequests"], "within the first round: nothing was listed again");
  t.match(log, [/csr proxy: left pending for an admin: .*no Node n1 \(yet\)/, /csr proxy: approved/]);
});

t.test("a CSR deleted while it waits for its Node is not handled again when the Node comes", async (t) => {
  const proxy = csrObject("proxy", apiClient, await pkcs10({ cn: "system:kube-proxy" }), clientUsages, asNode("n1"));
  const ac = new AbortController();
  const put: string[] = [];
  const log: string[] = [];
  let registered = false;
  let deletedSeen = false;
  const until = async (cond: () => boolean) => {
    const deadline = Date.now() + 10_000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out: ${log.join("; ")}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const client = {
    list: async (path: string) => ({ metadata: { resourceVersion: "1" }, items: path.endsWith("certificatesigningrequests") ? [proxy] : [] }),
    getOptional: async (path: string) => (path === "/api/v1/nodes/n1" && registered ? n1 : undefined),
    put: async (path: string) => {
      put.push(path);
      return {};
    },
    watch: async function* (path: string) {
      await until(() => log.some((l) => l.includes("no Node n1 (yet)")));
      if (path === "/api/v1/nodes") {
        await until(() => deletedSeen);
        registered = true;
        yield { type: "ADDED", object: n1 };
        // Past the queue: the Node's arrival has been handled by now.
        setTimeout(() => ac.abort(), 50);
      } else {
        yield { type: "DELETED", object: proxy };
        deletedSeen = true;
      }
      await new Promise((r) => ac.signal.addEventListener("abort", r, { once: true }));
    },
  } as unknown as KubeClient;
  await runCsrApprover(client, ac.signal, { log: (l) => log.push(l) });
  t.same(put, [], "no approval for a CSR that is gone");
});
