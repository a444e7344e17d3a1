// What `kilnctl health` judges, from what it gathered: each node's kiln
// services, etcd on the control planes, the Kubernetes API's readiness and
// every machine's Node. Pure: the command gathers, these decide, so each rule
// is tested without a cluster.
import { onWorker } from "../machinery/skip-reasons.js";
import type { ServiceRecord } from "./service-view.js";

/** One check's verdict. */
export interface CheckResult {
  check: string;
  ok: boolean;
  /** What holds, or what does not and where. */
  detail: string;
}

/** A machine as gathered: its services and hostname, or why it did not answer. */
export type MachineState = { node: string; hostname: string; services: ServiceRecord[] } | { node: string; error: string };

/** The Kubernetes side as gathered, or why it could not be. */
export type KubeState =
  | { t: "gathered"; readyz: string | { error: string }; nodes: { name: string; ready: boolean; reason: string }[] | { error: string } }
  | { t: "unavailable"; why: string };

export const checkNames = ["machine APIs", "kiln services", "etcd", "Kubernetes API", "Kubernetes nodes"] as const;

const answered = (m: MachineState): m is Extract<MachineState, { services: ServiceRecord[] }> => "services" in m;

/** Every check's verdict, in order; later checks that depend on an earlier failure say so. */
export function evaluateHealth(machines: MachineState[], kube: KubeState): CheckResult[] {
  const up = machines.filter(answered);
  const down = machines.filter((m): m is Extract<MachineState, { error: string }> => !answered(m));
  return [
    {
      check: "machine APIs",
      ok: down.length === 0 && up.length > 0,
      detail: down.length ? down.map((m) => `${m.node}: ${m.error}`).join("; ") : `${up.length} of ${machines.length} answer`,
    },
    servicesCheck(up),
    etcdCheck(up),
    apiCheck(kube),
    nodesCheck(up, kube),
  ];
}

/** A service is well when it runs and is not unhealthy, finished its work, or is skipped on purpose. */
function serviceProblem(s: ServiceRecord): string | undefined {
  if (s.state === "Running") return s.healthy === false ? `unhealthy: ${s.healthMessage || "its check fails"}` : undefined;
  if (s.state === "Finished") return undefined;
  if (s.state === "Skipped") return undefined;
  return `${s.state}${s.message ? `: ${s.message}` : ""}`;
}

function servicesCheck(up: Extract<MachineState, { services: ServiceRecord[] }>[]): CheckResult {
  const problems = up.flatMap((m) => m.services.flatMap((s) => {
    const p = serviceProblem(s);
    return p ? [`${m.hostname} ${s.id}: ${p}`] : [];
  }));
  const count = up.reduce((n, m) => n + m.services.length, 0);
  return { check: "kiln services", ok: up.length > 0 && problems.length === 0, detail: problems.length ? problems.join("; ") : `${count} services on ${up.length} machines` };
}

/** etcd on every control plane (a machine whose etcd is not skipped as a worker's): Running and healthy. */
function etcdCheck(up: Extract<MachineState, { services: ServiceRecord[] }>[]): CheckResult {
  const members = up.flatMap((m) => m.services.filter((s) => s.id === "etcd" && !s.message.startsWith(onWorker)).map((s) => ({ host: m.hostname, s })));
  if (members.length === 0) return { check: "etcd", ok: false, detail: "no control-plane machine among the nodes checked (give them with -n)" };
  const bad = members.filter(({ s }) => !(s.state === "Running" && s.healthy === true));
  const detail = bad.length
    ? bad.map(({ host, s }) => `${host}: ${s.state === "Running" ? `health ${s.healthy === null ? "not known yet" : `failing: ${s.healthMessage}`}` : `${s.state}: ${s.message}`}`).join("; ")
    : `${members.length} healthy`;
  return { check: "etcd", ok: bad.length === 0, detail };
}

function apiCheck(kube: KubeState): CheckResult {
  if (kube.t === "unavailable") return { check: "Kubernetes API", ok: false, detail: kube.why };
  if (typeof kube.readyz !== "string") return { check: "Kubernetes API", ok: false, detail: kube.readyz.error };
  return { check: "Kubernetes API", ok: kube.readyz.trim() === "ok", detail: `/readyz: ${kube.readyz.trim().split("\n").pop()}` };
}

/** Every machine that answered has a Node of its hostname, Ready. */
function nodesCheck(up: Extract<MachineState, { services: ServiceRecord[] }>[], kube: KubeState): CheckResult {
  if (kube.t === "unavailable") return { check: "Kubernetes nodes", ok: false, detail: kube.why };
  if (!Array.isArray(kube.nodes)) return { check: "Kubernetes nodes", ok: false, detail: kube.nodes.error };
  const nodes = kube.nodes;
  const problems = up.flatMap((m) => {
    const node = nodes.find((n) => n.name === m.hostname);
    if (!node) return [`${m.hostname}: not registered`];
    return node.ready ? [] : [`${m.hostname}: not Ready (${node.reason || "no reason given"})`];
  });
  return { check: "Kubernetes nodes", ok: up.length > 0 && problems.length === 0, detail: problems.length ? problems.join("; ") : `${up.length} Ready` };
}
