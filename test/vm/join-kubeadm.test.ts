// A kiln worker joins a control plane that kiln did not make. kubeadm 1.20
// makes it on the host (certificates, kubeconfigs, static pod manifests whose
// commands run as host processes, then the bootstrap token with cluster-info
// and the node bootstrapper RBAC: test/fixtures/kubernetes/kubeadm-control-plane.ts).
// The worker is a VM given only what a kubeadm join is given: the endpoint,
// the cluster CA's certificate and the bootstrap token. It registers, the
// kubeadm controller manager gives it a pod CIDR, it turns Ready on kiln's
// default pod network, and the kubeadm scheduler's pod runs offline from an
// imported image with its service-account token mounted. kube-proxy's CSR,
// which only kiln's control planes approve, waits and says how to approve it;
// approved with kubectl, kube-proxy runs.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { parse, stringify } from "yaml";
import { busyboxImage, writeBusyboxArchive } from "../fixtures/kubernetes/busybox-image.js";
import { kubernetesDir } from "../fixtures/kubernetes/binaries.js";
import { startKubeadmControlPlane } from "../fixtures/kubernetes/kubeadm-control-plane.js";
import { buildImage, consoleOf, createVmAsync, destroyVm, genCluster, on, onJson, skip, testImage, waitFor } from "./vm-helpers.js";

const name = "vm-join";
const nodeName = "kiln-joined";
/** How QEMU's user network shows the host to the guest. */
const hostFromGuest = "10.0.2.2";

t.test("a kiln worker joins a kubeadm-made control plane with the endpoint, CA and bootstrap token", { skip, timeout: 1_500_000 }, async (t) => {
  const k8s = kubernetesDir({ fail: (m) => t.fail(m), skip: (m) => t.comment(`not run: ${m}`) });
  if (!k8s) return;
  const image = buildImage(`${testImage()}-kubernetes`, ["--kubernetes", k8s]);
  const cp = await startKubeadmControlPlane(t, k8s, { certSANs: [hostFromGuest], podSubnet: "10.244.0.0/16" });
  const kubectl = (args: string[], input?: string) => {
    const r = spawnSync(join(k8s, "kubectl"), ["--kubeconfig", cp.kubeconfig, ...args], { encoding: "utf8", input, timeout: 120_000 });
    return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
  t.match(kubectl(["get", "configmap", "cluster-info", "-n", "kube-public", "-o", "name"]).stdout, /cluster-info/, "kubeadm's bootstrap-token phase made cluster-info");

  // One machine holding the machine CA's key (no kiln control plane signs its apid), and of the cluster only what kubeadm join is given.
  const cluster = genCluster(name, (m) => Object.assign(m, { hostname: nodeName }));
  const doc = parse(readFileSync(cluster.worker, "utf8")) as { cluster: Record<string, unknown> };
  doc.cluster = {
    name: "kubeadm-test",
    controlPlane: { endpoint: `https://${hostFromGuest}:${cp.port}` },
    ca: { crt: Buffer.from(cp.caCrt).toString("base64") },
    token: cp.token,
  };
  writeFileSync(cluster.worker, stringify(doc));

  const started = Date.now();
  const { vm, ran } = await createVmAsync(name, image, ["--config", cluster.worker]);
  t.teardown(() => destroyVm(name));
  if (!vm) {
    t.fail(`cluster create: ${ran.stderr}`);
    return;
  }
  t.teardown(() => {
    if (!t.passing()) t.comment(`--- console (last 150 lines) ---\n${consoleOf(vm).split("\n").slice(-150).join("\n")}`);
  });

  const ready = () => kubectl(["get", "node", nodeName, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"]).stdout === "True";
  await waitFor(`Node ${nodeName} Ready`, ready, 600_000, 5000);
  t.pass(`Node ${nodeName} registers through the bootstrap token and turns Ready`);
  t.comment(`kernel start to Node Ready: ${Math.round((Date.now() - started) / 1000)} s`);
  const podCIDR = kubectl(["get", "node", nodeName, "-o", "jsonpath={.spec.podCIDR}"]).stdout;
  t.match(podCIDR, /^10\.244\.\d+\.0\/24$/, "kubeadm's controller manager gave it a pod CIDR");
  const nodeUser = kubectl(["get", "csr", "-o", "jsonpath={range .items[?(@.spec.signerName=='kubernetes.io/kube-apiserver-client-kubelet')]}{.spec.username} {.status.conditions[0].type}{end}"]).stdout;
  t.match(nodeUser, /system:bootstrap:[a-z0-9]{6} Approved/, "its client certificate came by kubeadm's auto-approval of the bootstrap token's CSR");

  await t.test("a pod the kubeadm scheduler places runs offline from an imported image, its token mounted", async (t) => {
    const archive = join(cluster.dir, "busybox.tar");
    await writeBusyboxArchive(archive);
    const imported = on(vm, cluster, ["image", "import", archive]);
    t.equal(imported.code, 0, `kilnctl image import${imported.code === 0 ? "" : `: ${imported.stderr}`}`);
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "hello" },
      spec: {
        restartPolicy: "Never",
        containers: [{ name: "c", image: busyboxImage, imagePullPolicy: "Never", command: ["/bin/busybox", "cat", "/var/run/secrets/kubernetes.io/serviceaccount/namespace"] }],
      },
    };
    // The default service account appears shortly after the controller manager starts.
    await waitFor("the pod accepted", () => kubectl(["apply", "-f", "-"], JSON.stringify(pod)).code === 0, 120_000, 2000);
    const exit = () => kubectl(["get", "pod", "hello", "-o", "jsonpath={.spec.nodeName} {.status.phase} {.status.containerStatuses[0].state.terminated.exitCode}"]).stdout;
    await waitFor(`the pod to succeed (now: ${exit()})`, () => exit() === `${nodeName} Succeeded 0`, 300_000, 3000);
    t.pass("scheduled on the kiln worker, it ran and exited 0");
  });

  await t.test("kube-proxy's CSR waits for an approval kubeadm does not give, says so, and once approved kube-proxy runs", async (t) => {
    // Every CSR the service posted for this node (it posts afresh after a failed attempt): name and state, "" while pending.
    const csrs = () =>
      kubectl(["get", "csr", "-o", 'jsonpath={range .items[*]}{.metadata.name} {.status.conditions[0].type}{"\\n"}{end}'])
        .stdout.split("\n")
        .filter((l) => l.startsWith(`kube-proxy-${nodeName}-`))
        .map((l) => ({ name: l.split(" ")[0]!, state: l.split(" ")[1] ?? "" }));
    await waitFor("kube-proxy's CSR", () => csrs().length > 0, 120_000, 2000);
    t.ok(
      csrs().every((c) => c.state === ""),
      "none is approved by kubeadm's control plane",
    );
    const logs = on(vm, cluster, ["logs", "kube-proxy-credential"]).stdout;
    t.ok(
      csrs().some((c) => logs.includes(`kubectl certificate approve ${c.name}`)),
      `the service's log names its CSR and says how to approve it: ${logs.slice(-400)}`,
    );
    for (const c of csrs()) {
      const approve = kubectl(["certificate", "approve", c.name]);
      t.equal(approve.code, 0, `kubectl certificate approve ${c.name}, as the cluster's administrator would: ${approve.stderr}`);
    }
    const proxy = () => onJson<{ id: string; state: string; healthy: boolean | null }[]>(vm, cluster, ["services"]).find((s) => s.id === "kube-proxy");
    await waitFor("kube-proxy Running and healthy", () => proxy()?.state === "Running" && proxy()?.healthy === true, 180_000, 3000);
    t.pass("kube-proxy runs and is healthy");
  });
});
