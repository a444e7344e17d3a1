// A node's network pieces against a real etcd, kube-apiserver and controller
// manager (1.20) with kiln's approver: kube-proxy's certificate requested by
// CSR with a node's credential (and what it may do), and the Node list as the
// pod-route controller sees it, with the routes it makes of it.
import t from "tap";
import { createKubeClient, type KubeConnection } from "../../src/machinery/kube-client.js";
import { requestClientCertificate } from "../../src/machined/kubernetes/client-csr.js";
import { runControlPlaneControllers } from "../../src/machined/kubernetes/controllers.js";
import { kubeNodeSource } from "../../src/machined/kubernetes/node-source.js";
import { type PodRouteNode, podRoutes } from "../../src/machined/network/pod-routes.js";
import type { MachineConfig } from "../../src/config/schema.js";
import { x509 } from "../../src/pki/x509.js";
import { kubernetesDir } from "../fixtures/kubernetes/binaries.js";
import { startControlPlane } from "../fixtures/kubernetes/control-plane.js";

const kubeDir = kubernetesDir({ fail: (m) => t.fail(m), skip: (m) => t.plan(0, m) });

const nodeObject = (name: string, podCIDR: string, ip: string) => ({
  apiVersion: "v1",
  kind: "Node",
  metadata: { name },
  spec: { podCIDR, podCIDRs: [podCIDR] },
  status: { addresses: [{ type: "InternalIP", address: ip }, { type: "Hostname", address: name }] },
});

if (kubeDir) {
  const cp = await startControlPlane(t, kubeDir, { controllerManager: true });
  t.comment(`etcd and kube-apiserver ready in ${cp.readyMs} ms`);
  const admin = createKubeClient(cp.admin);
  t.teardown(() => admin.close());
  await admin.create("/api/v1/nodes", nodeObject("n1", "10.244.1.0/24", "10.0.0.1"));
  await admin.create("/api/v1/nodes", nodeObject("n2", "10.244.2.0/24", "10.0.0.2"));
  const n1Cert = await cp.clientCert("system:node:n1", ["system:nodes"]);
  const n1: KubeConnection = { server: cp.server, ca: cp.ca.crt, cert: n1Cert.crt, key: n1Cert.key };

  t.test("a node gets kube-proxy's certificate by CSR, approved by kiln and signed; it may list endpoints, not secrets", async (t) => {
    const ac = new AbortController();
    const log: string[] = [];
    const running = runControlPlaneControllers(cp.admin, { cluster: { token: "abcdef.0123456789abcdef" } } as MachineConfig, ac.signal, { log: (l) => log.push(l) });
    t.teardown(async () => {
      ac.abort();
      await running;
    });
    const node = createKubeClient(n1);
    t.teardown(() => node.close());
    const started = Date.now();
    const posted: string[] = [];
    const onPosted = (name: string) => posted.push(name);
    const got = await requestClientCertificate(node, { cn: "system:kube-proxy", namePrefix: "kube-proxy-n1-", pollMs: 200, onPosted }, AbortSignal.timeout(60_000));
    t.same(posted, [got.name], "the waiter is told the CSR's name once, as it is posted");
    t.comment(`issued in ${Date.now() - started} ms`);
    t.match(got.name, /^kube-proxy-n1-/);
    const cert = new x509.X509Certificate(got.cert);
    t.equal(cert.subjectName.toString(), "CN=system:kube-proxy");
    t.ok(log.some((l) => l.includes(got.name)), "the approver logged its decision", { log });
    const proxy = createKubeClient({ server: cp.server, ca: cp.ca.crt, cert: got.cert, key: got.key });
    t.teardown(() => proxy.close());
    t.ok(await proxy.list("/api/v1/endpoints"), "as system:kube-proxy (system:node-proxier) it lists endpoints");
    t.ok(await proxy.list("/api/v1/services"), "and services");
    await t.rejects(proxy.list("/api/v1/secrets"), /403 .*"system:kube-proxy"/, "but not secrets");
  });

  t.test("with the node's credential the Node list comes and changes; the routes follow", async (t) => {
    const node = createKubeClient(n1);
    t.teardown(() => node.close());
    const ac = new AbortController();
    const lists: PodRouteNode[][] = [];
    const logs: string[] = [];
    let added = false;
    const watching = kubeNodeSource(node, (l) => logs.push(l)).watchNodes((nodes) => {
      lists.push(nodes);
      const names = nodes.map((n) => n.metadata?.name);
      if (!added && names.includes("n2")) {
        added = true;
        void admin.create("/api/v1/nodes", nodeObject("n3", "10.244.3.0/24", "10.0.0.3"));
      }
      if (names.includes("n3")) ac.abort();
    }, AbortSignal.any([ac.signal, AbortSignal.timeout(60_000)]));
    await watching;
    t.ok(ac.signal.aborted, "n3 showed up through the watch", { logs });
    t.same(podRoutes(lists[0] ?? [], "n1").map((r) => `${r.dst} via ${r.gateway}`), ["10.244.2.0/24 via 10.0.0.2"], "the first list: a route to n2");
    t.same(podRoutes(lists.at(-1) ?? [], "n1").map((r) => `${r.dst} via ${r.gateway}`), ["10.244.2.0/24 via 10.0.0.2", "10.244.3.0/24 via 10.0.0.3"], "after the watch: n3 too");
  });
}
