// `kilnctl health`'s verdicts from gathered states: each rule, and what the
// detail names when it does not hold.
import t from "tap";
import { evaluateHealth, type KubeState, type MachineState } from "../../src/cli/health-checks.js";
import type { ServiceRecord } from "../../src/cli/service-view.js";

const svc = (id: string, state: string, healthy: boolean | null = true, message = "", healthMessage = ""): ServiceRecord => ({
  node: "",
  id,
  state,
  healthy,
  healthMessage,
  message,
  pid: 1,
  restarts: 0,
  dependsOn: [],
  since: null,
});

const cp = (services = [svc("etcd", "Running"), svc("kube-apiserver", "Running"), svc("kubelet", "Running")]): MachineState => ({ node: "10.5.0.2", hostname: "cp-1", services });
const w = (services = [svc("etcd", "Skipped", null, "this machine is a worker: only control planes run etcd"), svc("kubelet", "Running")]): MachineState => ({
  node: "10.5.0.3",
  hostname: "w-1",
  services,
});
const kube = (ready = { "cp-1": true, "w-1": true } as Record<string, boolean>, readyz = "ok"): KubeState => ({
  t: "gathered",
  readyz,
  nodes: Object.entries(ready).map(([name, r]) => ({ name, ready: r, reason: r ? "" : "container runtime network not ready" })),
});
const verdicts = (machines: MachineState[], k: KubeState) => Object.fromEntries(evaluateHealth(machines, k).map((r) => [r.check, r.ok ? "ok" : r.detail]));

t.test("a healthy 1+1 cluster holds every check", async (t) => {
  t.same(verdicts([cp(), w()], kube()), { "machine APIs": "ok", "kiln services": "ok", etcd: "ok", "Kubernetes API": "ok", "Kubernetes nodes": "ok" });
});

t.test("each failure is named where it is", async (t) => {
  const v = verdicts([cp(), { node: "10.5.0.3", error: "connect ECONNREFUSED" }], kube({ "cp-1": true }));
  t.equal(v["machine APIs"], "10.5.0.3: connect ECONNREFUSED");
  t.equal(v["Kubernetes nodes"], "ok", "only machines that answered are looked for");
  const waiting = "waiting for the cluster's etcd (not bootstrapped: run `kilnctl bootstrap` on one control-plane node; the others join its cluster by themselves)";
  const notFounded = verdicts([cp([svc("etcd", "Waiting", null, waiting)])], { t: "unavailable", why: "no control plane issued a kubeconfig" });
  t.match(notFounded["kiln services"], /^cp-1 etcd: Waiting: waiting for the cluster's etcd \(not bootstrapped: run `kilnctl bootstrap`/);
  t.match(notFounded.etcd, /^cp-1: Waiting: waiting for the cluster's etcd \(not bootstrapped/);
  t.equal(notFounded["Kubernetes API"], "no control plane issued a kubeconfig");
  const sick = verdicts([cp([svc("etcd", "Running", false, "", "connection refused"), svc("kubelet", "Failed", null, "exit 1")]), w()], kube({ "cp-1": true, "w-1": false }, "[-]etcd failed\nreadyz check failed"));
  t.equal(sick["kiln services"], "cp-1 etcd: unhealthy: connection refused; cp-1 kubelet: Failed: exit 1");
  t.equal(sick.etcd, "cp-1: health failing: connection refused");
  t.equal(sick["Kubernetes API"], "/readyz: readyz check failed");
  t.equal(sick["Kubernetes nodes"], "w-1: not Ready (container runtime network not ready)");
  t.equal(verdicts([cp(), w()], kube({ "cp-1": true }))["Kubernetes nodes"], "w-1: not registered");
});

t.test("services skipped on purpose and finished ones are well; a health not known yet is not for etcd", async (t) => {
  const v = verdicts([cp([svc("etcd", "Running", null), svc("kube-proxy", "Skipped", null, "no kube-proxy binary in the image"), svc("install", "Finished", null)])], kube({ "cp-1": true }));
  t.equal(v["kiln services"], "ok");
  t.equal(v.etcd, "cp-1: health not known yet");
  t.equal(verdicts([w()], kube({ "w-1": true })).etcd, "no control-plane machine among the nodes checked (give them with -n)");
});
