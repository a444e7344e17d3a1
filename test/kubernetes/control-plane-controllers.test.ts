// machined's Kubernetes client, bootstrap resources and CSR approver against
// a real etcd, kube-apiserver and controller manager (1.20).
import { setTimeout as sleep } from "node:timers/promises";
import t, { type Test } from "tap";
import { bootstrapGroup, ensureBootstrapResources, type Secret } from "../../src/machined/kubernetes/bootstrap-resources.js";
import { createKubeClient, type KubeClient, KubeApiError, type KubeConnection } from "../../src/machinery/kube-client.js";
import { type CertificateSigningRequest, csrPath, type Node } from "../../src/machined/kubernetes/csr-approver.js";
import { runControlPlaneControllers } from "../../src/machined/kubernetes/controllers.js";
import type { MachineConfig } from "../../src/config/schema.js";
import { kubernetesDir } from "../fixtures/kubernetes/binaries.js";
import { startControlPlane } from "../fixtures/kubernetes/control-plane.js";
import { clientUsages, csrObject, pkcs10, pkcs10WithKey, servingUsages } from "../fixtures/kubernetes/csr.js";

const kubeDir = kubernetesDir({ fail: (m) => t.fail(m), skip: (m) => t.plan(0, m) });
const token = "abcdef.0123456789abcdef";

/** A Node `name` with `addresses` (InternalIP or Hostname by their look). */
function nodeObject(name: string, addresses: string[]): Node {
  const typed = addresses.map((a) => ({ type: /^[0-9.:]+$/.test(a) ? "InternalIP" : "Hostname", address: a }));
  return { apiVersion: "v1", kind: "Node", metadata: { name }, status: { addresses: typed } };
}

/** The CSR `name` once `done` holds for it, polling every 200 ms for up to `ms`. */
async function waitCsr(client: KubeClient, name: string, done: (c: CertificateSigningRequest) => boolean, ms = 60_000): Promise<CertificateSigningRequest> {
  const deadline = Date.now() + ms;
  for (;;) {
    const csr = await client.get<CertificateSigningRequest>(`${csrPath}/${name}`);
    if (done(csr) || Date.now() > deadline) return csr;
    await sleep(200);
  }
}

const approved = (c: CertificateSigningRequest) => (c.status?.conditions ?? []).some((x) => x.type === "Approved");

if (kubeDir) {
  const cp = await startControlPlane(t, kubeDir, { controllerManager: true });
  t.comment(`etcd and kube-apiserver ready in ${cp.readyMs} ms`);
  const admin = createKubeClient(cp.admin);
  t.teardown(() => admin.close());

  t.test("bootstrap resources are created, and creating them again is no error", async (t) => {
    const first = await ensureBootstrapResources(admin, token);
    t.same(first.map((r) => r.t), ["created", "created", "created", "created"]);
    const again = await ensureBootstrapResources(admin, token);
    t.same(again.map((r) => r.t), ["exists", "exists", "exists", "exists"]);
    const secret = await admin.get<Secret>("/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef");
    t.equal(secret.type, "bootstrap.kubernetes.io/token");
    t.equal(Buffer.from(secret.data?.["auth-extra-groups"] ?? "", "base64").toString(), bootstrapGroup);
  });

  t.test("the bootstrap token authenticates and may create a CSR; a wrong token gets 401", async (t) => {
    await ensureBootstrapResources(admin, token);
    const bootstrap = createKubeClient({ server: cp.server, ca: cp.ca.crt, token });
    t.teardown(() => bootstrap.close());
    const pem = await pkcs10({ cn: "system:node:joiner", o: ["system:nodes"] });
    const csr = csrObject("bootstrap-client", "kubernetes.io/kube-apiserver-client-kubelet", pem, clientUsages);
    const r = await bootstrap.create(csrPath, csr);
    t.equal(r.t, "created");
    // The controller manager's csrapproving controller approves it (the nodeclient binding) and it is signed.
    const signed = await waitCsr(admin, "bootstrap-client", (c) => !!c.status?.certificate);
    t.ok(signed.status?.certificate, "signed after auto-approval");
    t.equal(signed.spec.username, "system:bootstrap:abcdef");

    const wrong = createKubeClient({ server: cp.server, ca: cp.ca.crt, token: "abcdef.ffffffffffffffff" });
    t.teardown(() => wrong.close());
    const err = await wrong.list(csrPath).catch((e: unknown) => e);
    t.ok(err instanceof KubeApiError);
    t.equal((err as KubeApiError).status, 401);
    t.match((err as KubeApiError).message, /^GET \/apis\/certificates.k8s.io\/v1\/certificatesigningrequests: 401 /);
  });

  /** The control plane's controllers, run until the test ends; their log lines. */
  const runControllers = (t: Test): string[] => {
    const ac = new AbortController();
    const log: string[] = [];
    const running = runControlPlaneControllers(cp.admin, { cluster: { token } } as MachineConfig, ac.signal, { log: (l) => log.push(l) });
    t.teardown(async () => {
      ac.abort();
      await running;
    });
    return log;
  };

  t.test("the approver approves a node's own serving and kube-proxy CSRs, and leaves the rest", async (t) => {
    const log = runControllers(t);
    await admin.create("/api/v1/nodes", nodeObject("n1", ["n1", "10.0.0.1"]));
    await admin.create("/api/v1/nodes", nodeObject("n2", ["n2", "10.0.0.2"]));
    const n1Cert = await cp.clientCert("system:node:n1", ["system:nodes"]);
    const n1: KubeConnection = { server: cp.server, ca: cp.ca.crt, cert: n1Cert.crt, key: n1Cert.key };
    const node = createKubeClient(n1);
    t.teardown(() => node.close());

    const post = async (name: string, signer: string, cn: string, o: string[], sans: string[], usages: string[], client = node) =>
      client.create(csrPath, csrObject(name, signer, await pkcs10({ cn, o, sans }), usages));
    // The ones to leave first: the approver handles CSRs in order, so once the last is approved, these were decided.
    await post("foreign-ip", "kubernetes.io/kubelet-serving", "system:node:n1", ["system:nodes"], ["n1", "10.0.0.9"], servingUsages);
    await post("other-node", "kubernetes.io/kubelet-serving", "system:node:n2", ["system:nodes"], ["n2", "10.0.0.2"], servingUsages);
    await post("proxy-by-admin", "kubernetes.io/kube-apiserver-client", "system:kube-proxy", [], [], clientUsages, admin);
    await post("serving", "kubernetes.io/kubelet-serving", "system:node:n1", ["system:nodes"], ["n1", "10.0.0.1"], servingUsages);
    const proxyReq = await pkcs10WithKey({ cn: "system:kube-proxy" });
    await node.create(csrPath, csrObject("proxy", "kubernetes.io/kube-apiserver-client", proxyReq.pem, clientUsages));

    const serving = await waitCsr(admin, "serving", approved);
    t.ok(approved(serving), "serving approved", { log });
    t.equal(serving.status?.conditions?.find((c) => c.type === "Approved")?.reason, "KilnApprove");
    const proxy = await waitCsr(admin, "proxy", (c) => !!c.status?.certificate);
    t.ok(approved(proxy), "kube-proxy CSR approved");
    t.ok(proxy.status?.certificate, "and signed by the controller manager");
    // With it, kube-proxy is system:kube-proxy: the default binding system:node-proxier lets it list endpoints, not secrets.
    const cert = Buffer.from(proxy.status?.certificate ?? "", "base64").toString();
    const kubeProxy = createKubeClient({ server: cp.server, ca: cp.ca.crt, cert, key: proxyReq.key });
    t.teardown(() => kubeProxy.close());
    t.ok(await kubeProxy.list("/api/v1/endpoints"), "kube-proxy lists endpoints");
    await t.rejects(kubeProxy.list("/api/v1/secrets"), /GET \/api\/v1\/secrets: 403 .*"system:kube-proxy"/, "but not secrets");
    for (const name of ["foreign-ip", "other-node", "proxy-by-admin"]) {
      const c = await admin.get<CertificateSigningRequest>(`${csrPath}/${name}`);
      t.notOk(approved(c), `${name} left pending`);
    }
    t.ok(log.some((l) => l.includes("foreign-ip") && l.includes("10.0.0.9")), "the log says why foreign-ip was left");
    t.ok(log.some((l) => l.startsWith("bootstrap resources:")), "bootstrap resources ensured first");
  });

  t.test("a kube-proxy CSR posted before its Node exists is approved once the Node is registered, not at the next list", async (t) => {
    const log = runControllers(t);
    const n3Cert = await cp.clientCert("system:node:n3", ["system:nodes"]);
    const n3 = createKubeClient({ server: cp.server, ca: cp.ca.crt, cert: n3Cert.crt, key: n3Cert.key });
    t.teardown(() => n3.close());
    await n3.create(csrPath, csrObject("early-proxy", "kubernetes.io/kube-apiserver-client", await pkcs10({ cn: "system:kube-proxy" }), clientUsages));
    const deadline = Date.now() + 60_000;
    while (!log.some((l) => l.includes("early-proxy") && l.includes("no Node n3")) && Date.now() < deadline) await sleep(200);
    t.ok(log.some((l) => l.includes("early-proxy") && l.includes("no Node n3")), "left pending while there is no Node n3", { log });
    const registered = Date.now();
    await admin.create("/api/v1/nodes", nodeObject("n3", ["n3", "10.0.0.3"]));
    // The approver's watches last 300 s; a CSR looked at again only when they end would wait that long.
    const csr = await waitCsr(admin, "early-proxy", approved, 30_000);
    t.ok(approved(csr), `approved ${Date.now() - registered} ms after the Node was registered`, { log });
  });
}
