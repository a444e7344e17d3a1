// A Kubernetes cluster of two VMs on a host bridge, from one command:
// `cluster create --controlplanes 1 --workers 1 --wait` boots both, founds
// etcd, merges the admin kubeconfig and returns once `kilnctl health`
// holds. Then, with kubectl: both Nodes Ready, a pod from an image brought
// in with `kilnctl image import` (busybox, built here) logs and execs, with
// its service-account token mounted; a pod on the control plane reaches a pod
// on the worker directly (host-gw) and through a ClusterIP Service
// (kube-proxy); a pod pulls from docker-registry on the host over TLS with
// the CA given in machine.registries, and one told the wrong CA says so in
// its events; both nodes reboot at once (each boots from its own disk, --disk): the
// cluster answers again with its objects, without a second bootstrap.
// The network: each machine answers on its own address from the host, the
// worker through the control plane (fan-out), and `cluster destroy` leaves
// no VM, dnsmasq, link or state behind.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { busyboxImage, writeBusyboxArchive } from "../fixtures/kubernetes/busybox-image.js";
import { kubernetesDir } from "../fixtures/kubernetes/binaries.js";
import { startRegistry } from "../fixtures/registry.js";
import { ctr, startContainerd } from "../machined/containerd.js";
import { writeRegistryHosts } from "../../src/machined/services/containerd.js";
import { registryHostsFiles } from "../../src/machined/services/registry-hosts.js";
import { createCA } from "../../src/pki/certs.js";
import { encodeBase64Pem } from "../../src/pki/pem.js";
import { alive, BOOT_TIMEOUT_MS, buildImage, kilnctl, skip as vmSkip, testImage } from "./vm-helpers.js";

const name = "vm-k8s";
// On CI a missing program fails the test (hack/setup.sh installs both) rather than skipping it.
const missing = ["/usr/sbin/dnsmasq", "/usr/bin/docker-registry"].filter((f) => !existsSync(f));
const skip = vmSkip || (process.env.CI !== "true" && missing.length > 0 && `needs ${missing.join(", ")} (hack/setup.sh)`);
const dir = mkdtempSync(join(tmpdir(), "kiln-cnet-"));
const env = { KILNCONFIG: join(dir, "kilnconfig"), KILN_CLUSTER_DIR: join(dir, "clusters"), KUBECONFIG: join(dir, "kubeconfig") };
/** Under TCG on two shared cores: two boots at once, etcd, the control plane, two kubelets joining. */
const CLUSTER_TIMEOUT_MS = 1_200_000;
const ctl = (args: string[], timeout = 60_000) => kilnctl(args, env, timeout);

interface Node {
  name: string;
  role: string;
  address: string;
  mac: string;
  status: string;
  pid: number;
}
interface Cluster {
  name: string;
  bridge: string;
  subnet: string;
  hostAddress: string;
  stateDir: string;
  nodes: Node[];
}

/** kubectl (the one hack/kubernetes.sh built) with the kubeconfig cluster create merged; never throws. */
function kubectl(k8s: string, args: string[], timeout = 120_000) {
  const r = spawnSync(join(k8s, "kubectl"), args, { encoding: "utf8", env: { ...process.env, KUBECONFIG: env.KUBECONFIG }, timeout });
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** On failure, each machine's last console lines (kernel, machined and service logs), for the CI log. */
function printConsoles(t: Test, root: string): void {
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.startsWith("console") ? [join(d, e.name)] : []));
  for (const file of existsSync(root) ? walk(root) : []) {
    const lines = readFileSync(file, "utf8").split("\n");
    t.comment(`--- ${file} (last 150 of ${lines.length} lines) ---\n${lines.slice(-150).join("\n")}`);
  }
}

/** Polls `check` every 5 s until it returns true or `ms` pass. */
async function until(ms: number, check: () => boolean): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 5000));
  }
  return check();
}

const pods = (image: string) => `
apiVersion: v1
kind: Pod
metadata: {name: hello}
spec:
  nodeName: w-1
  restartPolicy: Never
  containers:
  - {name: c, image: ${image}, imagePullPolicy: Never, command: ["/bin/busybox", "sh", "-c", "echo hello from $(/bin/busybox hostname) in $(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace)"]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: w-1
  containers:
  - {name: c, image: ${image}, imagePullPolicy: Never, command: ["/bin/busybox", "sh", "-c", "mkdir /www && echo served-by-web > /www/index.html && exec /bin/busybox httpd -f -p 8080 -h /www"]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeName: cp-1
  containers:
  - {name: c, image: ${image}, imagePullPolicy: Never, command: ["/bin/busybox", "sleep", "3600"]}
`;

t.test("a Kubernetes cluster of a control plane and a worker on a host bridge", { skip, timeout: CLUSTER_TIMEOUT_MS + 1_200_000 }, async (t) => {
  const k8s = kubernetesDir({ fail: (m) => t.fail(m), skip: (m) => t.comment(`not run: ${m}`) });
  if (!k8s) return;
  const image = buildImage(`${testImage()}-kubernetes`, ["--kubernetes", k8s]);
  t.teardown(() => {
    if (!t.passing()) printConsoles(t, join(dir, "clusters"));
    ctl(["cluster", "destroy", name], 180_000);
    rmSync(dir, { recursive: true, force: true });
  });
  const started = Date.now();
  const created = ctl(
    ["cluster", "create", "--provisioner", "qemu", "--name", name, "--controlplanes", "1", "--workers", "1", "--image", image, "--disk", "3G", "--wait", "--wait-timeout", `${CLUSTER_TIMEOUT_MS / 1000}s`, "-o", "json"],
    CLUSTER_TIMEOUT_MS + 300_000,
  );
  t.equal(created.code, 0, `cluster create --wait holds health: ${created.stderr.slice(-3000)}`);
  if (created.code !== 0) return;
  t.comment(`cluster create to healthy: ${Math.round((Date.now() - started) / 1000)} s`);
  const cluster = JSON.parse(created.stdout) as Cluster;
  const [cp, worker] = cluster.nodes as [Node, Node];
  t.same([cp.name, cp.role, worker.name, worker.role], ["cp-1", "controlplane", "w-1", "worker"]);
  t.match(cluster.bridge, /^kb-[0-9a-f]{8}$/);
  t.ok(readdirSync("/sys/class/net").includes(cluster.bridge), "the bridge exists");

  await t.test("the machines answer on their own addresses, and through each other", async (t) => {
    for (const n of [cp, worker]) {
      const r = ctl(["-e", n.address, "-n", n.address, "hostname", "-o", "json"]);
      t.equal(r.code, 0, `${n.name} answers at ${n.address}:50000 directly: ${r.stderr}`);
      t.match(r.stdout, new RegExp(`"hostname": "${n.name}"`), `${n.name}'s hostname from its config`);
    }
    const shown = ctl(["cluster", "show", name, "-o", "json"]);
    t.equal(shown.code, 0, shown.stderr);
    const show = JSON.parse(shown.stdout) as Cluster;
    t.same(show.nodes.map((n) => [n.name, n.address, n.mac, n.status]), [cp, worker].map((n) => [n.name, n.address, n.mac, "running"]), "cluster show lists both, running");
    const through = ctl(["-e", cp.address, "-n", worker.address, "hostname", "-o", "json"]);
    t.equal(through.code, 0, `the worker answers through the control plane: ${through.stderr}`);
    t.match(through.stdout, /"hostname": "w-1"/);
    // The worker holds no machine CA key: its apid's certificate came from the control plane's trust port.
    const workerConfig = ctl(["-e", cp.address, "-n", worker.address, "get", "config"]);
    t.equal(workerConfig.code, 0, workerConfig.stderr);
    t.match(workerConfig.stdout, /token: /, "the worker's config holds the machine token");
    t.notMatch(workerConfig.stdout.split(/\ncluster:/)[0], /^\s+key: /m, "and no key in its machine section");
    const onward = ctl(["-e", worker.address, "-n", cp.address, "hostname"]);
    t.not(onward.code, 0, "a worker's apid calls no other node");
    t.match(onward.stderr, /no apid client certificate to reach other nodes with .*send the call through a control-plane node/s);
    const health = ctl(["health", "--wait-timeout", "180s", "-o", "json"], 300_000);
    t.equal(health.code, 0, `kilnctl health holds: ${health.stdout} ${health.stderr}`);
  });

  await t.test("bad input: a second bootstrap, and a bootstrap on a worker, are refused", async (t) => {
    const again = ctl(["-e", cp.address, "-n", cp.address, "bootstrap"]);
    t.not(again.code, 0);
    t.match(again.stderr, /bootstrap/i);
    const onWorker = ctl(["-e", worker.address, "-n", worker.address, "bootstrap"]);
    t.not(onWorker.code, 0);
    t.match(onWorker.stderr, /worker/);
  });

  const archive = await writeBusyboxArchive(join(dir, "busybox.tar"));

  await t.test("kubectl: Nodes Ready, a pod from an imported image logs and execs, Services reach across nodes", async (t) => {
    const nodes = kubectl(k8s, ["get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=='Ready')].status} {end}"]);
    t.equal(nodes.stdout.trim(), "cp-1=True w-1=True", `${nodes.stdout} ${nodes.stderr}`);
    for (const n of [cp, worker]) {
      const r = ctl(["-n", n.address, "image", "import", archive], 300_000);
      t.equal(r.code, 0, `image import on ${n.name}: ${r.stderr}`);
    }
    const apply = spawnSync(join(k8s, "kubectl"), ["apply", "-f", "-"], { input: pods(busyboxImage), encoding: "utf8", env: { ...process.env, KUBECONFIG: env.KUBECONFIG } });
    t.equal(apply.status, 0, apply.stderr);
    const ready = kubectl(k8s, ["wait", "--for=condition=Ready", "pod/web", "pod/client", "--timeout=600s"], 660_000);
    t.equal(ready.code, 0, `pods Ready: ${ready.stderr}`);
    t.ok(await until(300_000, () => kubectl(k8s, ["get", "pod", "hello", "-o", "jsonpath={.status.phase}"]).stdout === "Succeeded"), "the pod ran to completion");
    t.equal(kubectl(k8s, ["logs", "hello"]).stdout, "hello from hello in default\n", "kubectl logs: its output, with the service-account token volume mounted");
    const exec = kubectl(k8s, ["exec", "client", "--", "/bin/busybox", "echo", "exec works"]);
    t.equal(exec.stdout, "exec works\n", `kubectl exec: ${exec.stderr}`);
    const webIp = kubectl(k8s, ["get", "pod", "web", "-o", "jsonpath={.status.podIP}"]).stdout;
    const get = (host: string) =>
      kubectl(k8s, ["exec", "client", "--", "/bin/busybox", "sh", "-c", `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 10 ${host}`]).stdout;
    t.match(get(`${webIp} 8080`), /served-by-web/, "pod to pod across nodes (host-gw routes)");
    const clusterIp = kubectl(k8s, ["get", "service", "web", "-o", "jsonpath={.spec.clusterIP}"]).stdout;
    t.ok(await until(180_000, () => /served-by-web/.test(get(`${clusterIp} 80`))), `a ClusterIP Service (${clusterIp}) on the other node, through kube-proxy`);
  });

  await t.test("a pod pulls from a registry on the host over TLS through machine.registries; a wrong CA shows in the pod's events", async (t) => {
    const [ca, other] = [await createCA("kiln vm-test registry CA"), await createCA("some other CA")];
    const registry = await startRegistry(t, ca, { address: cluster.hostAddress, clientCerts: false });
    const impostor = await startRegistry(t, other, { address: cluster.hostAddress, clientCerts: false });
    // Pushed from a containerd on the host, trusting the registry's CA as the nodes will.
    const pusher = await startContainerd(t);
    const hosts = join(pusher.dir, "certs.d");
    writeRegistryHosts(hosts, registryHostsFiles({ hosts: [{ host: registry.host, tls: { ca: encodeBase64Pem(ca.crt) } }] }, hosts));
    const remote = `${registry.host}/kiln/busybox:test`;
    ctr(pusher.socket, "images", "import", archive);
    ctr(pusher.socket, "images", "tag", busyboxImage, remote);
    ctr(pusher.socket, "images", "push", "--hosts-dir", hosts, remote);
    // Both registries are told to trust our CA: right for one, wrong for the impostor.
    const tls = { ca: encodeBase64Pem(ca.crt) };
    const patch = { machine: { registries: { hosts: [{ host: registry.host, tls }, { host: impostor.host, tls }] } } };
    const patched = ctl(["-n", worker.address, "patch", "config", "-p", JSON.stringify(patch)], 180_000);
    t.equal(patched.code, 0, `machine.registries applied to the worker: ${patched.stderr}`);
    const pod = (name: string, image: string) =>
      `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"${name}"},"spec":{"nodeName":"w-1","restartPolicy":"Never","containers":[{"name":"c","image":"${image}","imagePullPolicy":"Always","command":["/bin/busybox","echo","pulled over TLS"]}]}}`;
    for (const [name, image] of [["pulled", remote], ["wrong-ca", `${impostor.host}/kiln/busybox:test`]] as const) {
      const apply = spawnSync(join(k8s, "kubectl"), ["apply", "-f", "-"], { input: pod(name, image), encoding: "utf8", env: { ...process.env, KUBECONFIG: env.KUBECONFIG } });
      t.equal(apply.status, 0, apply.stderr);
    }
    t.ok(await until(300_000, () => kubectl(k8s, ["get", "pod", "pulled", "-o", "jsonpath={.status.phase}"]).stdout === "Succeeded"), "the pod pulled its image from the host's registry and ran");
    t.equal(kubectl(k8s, ["logs", "pulled"]).stdout, "pulled over TLS\n");
    const events = () => kubectl(k8s, ["get", "events", "--field-selector", "involvedObject.name=wrong-ca", "-o", "jsonpath={.items[*].message}"]).stdout;
    t.ok(await until(300_000, () => /x509: certificate signed by unknown authority/.test(events())), `a wrong CA is reported in the pod's events: ${events().slice(0, 500)}`);
    t.not(kubectl(k8s, ["get", "pod", "wrong-ca", "-o", "jsonpath={.status.phase}"]).stdout, "Succeeded", "and that pod did not run");
  });

  // Both at once (one wait instead of two): each boots from its own disk, its config from STATE.
  await t.test("both nodes reboot at once: the worker comes back Ready under its name, the control plane without a second bootstrap", async (t) => {
    const nodes = [worker, cp];
    const bootId = (n: Node) => kubectl(k8s, ["get", "node", n.name, "-o", "jsonpath={.status.nodeInfo.bootID}"]).stdout;
    const ready = (n: Node) => kubectl(k8s, ["get", "node", n.name, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}"]).stdout === "True";
    const before = new Map(nodes.map((n) => [n.name, bootId(n)]));
    t.ok([...before.values()].every((id) => id !== ""), "both Nodes report their boot ids");
    const rebooted = Date.now();
    const since = () => `${Math.round((Date.now() - rebooted) / 1000)} s after the reboots`;
    for (const n of nodes) {
      const r = ctl(["-n", n.address, "reboot"]);
      t.equal(r.code, 0, `${n.name}: kilnctl reboot is answered: ${r.stderr}`);
    }
    const back = await until(BOOT_TIMEOUT_MS + 400_000, () =>
      kubectl(k8s, ["get", "--raw", "/readyz"]).stdout === "ok" &&
      nodes.every((n) => {
        const id = bootId(n);
        return id !== "" && id !== before.get(n.name) && ready(n);
      }));
    t.ok(back, "the API answers again (etcd's data was kept on the control plane's disk), and both Nodes are Ready with new boot ids");
    t.comment(`the API answers and both Nodes are Ready again ${since()}`);
    // The worker's config came from disk, so apid may start before the DHCP lease: its certificate must come to hold the address.
    let last = "";
    const answers = await until(120_000, () => {
      const v = ctl(["-e", worker.address, "-n", worker.address, "version"]);
      last = v.stderr;
      return v.code === 0;
    });
    t.ok(answers, `the worker's API answers on its own address again: ${last}`);
    t.comment(`the worker's API answers on its own address ${since()}`);
    const health = ctl(["health", "--wait-timeout", "600s", "-o", "json"], 700_000);
    t.comment(`kilnctl health holds ${since()}`);
    t.equal(health.code, 0, `kilnctl health holds again: ${health.stdout} ${health.stderr}`);
    t.equal(kubectl(k8s, ["get", "nodes", "-o", "name"]).stdout.trim().split("\n").length, 2, "no second Node for either");
    t.equal(kubectl(k8s, ["get", "service", "web", "-o", "name"]).stdout.trim(), "service/web", "the objects made before the reboot are still there");
    const again = ctl(["-e", cp.address, "-n", cp.address, "bootstrap"]);
    t.match(again.stderr, /already/i, "and the control plane still counts as bootstrapped");
  });

  // Last, after every subtest above has finished (each is awaited: a subtest
  // without an await runs synchronously and the test body would go on to
  // destroy the cluster under the subtests still queued).
  await t.test("cluster destroy leaves no VM, dnsmasq, link or state behind", async (t) => {
    const began = Date.now();
    const destroyed = ctl(["cluster", "destroy", name], 180_000);
    t.equal(destroyed.code, 0, destroyed.stderr);
    // Its own steps are bounded (Shutdown 5 s, power-off 10 s, SIGTERM and SIGKILL 5 s each, dnsmasq 6 s); a
    // kilnctl that outlives them is waiting on a connection to a machine it powered off (it did, for 136 s).
    const took = Math.round((Date.now() - began) / 1000);
    t.ok(took < 90, `kilnctl cluster destroy returns once the cluster is gone: ${took} s`);
    const links = readdirSync("/sys/class/net");
    t.notOk(links.some((l) => l === cluster.bridge || l.startsWith(cluster.bridge.replace("kb-", "kt-"))), "no bridge, no taps");
    t.notOk(alive(cp.pid) || alive(worker.pid), "both QEMUs have ended");
    t.notOk(existsSync(cluster.stateDir), "the state directory is gone");
    const dnsmasq = readdirSync("/proc").filter((p) => /^\d+$/.test(p)).some((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(cluster.stateDir);
      } catch {
        return false;
      }
    });
    t.notOk(dnsmasq, "no dnsmasq of the cluster runs");
  });
});
