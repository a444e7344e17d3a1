// kiln's CSR approver, run on control planes. It approves exactly two kinds
// of CertificateSigningRequest and leaves every other one pending, for an
// admin: a node's kubelet serving certificate for its own name and
// addresses, and a node's kube-proxy client certificate (CN=system:kube-proxy,
// which the default binding system:node-proxier binds to the node-proxier
// role). Each decision is a pure function of the CSR, its parsed request and
// the requesting node's Node object; the loop around them lists, watches,
// and reconnects with backoff until its signal aborts. A CSR left pending for
// want of its Node (a node's kube-proxy asks before its Node is registered)
// is looked at again when that Node is added or changes.
import { isIP } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { x509 } from "../../pki/x509.js";
import type { KubeClient, KubeObject } from "../../machinery/kube-client.js";

/** A CertificateSigningRequest (certificates.k8s.io/v1), as far as the approver reads it. */
export interface CertificateSigningRequest extends KubeObject {
  spec: { request: string; signerName: string; usages?: string[]; username?: string; groups?: string[] };
  status?: { conditions?: CsrCondition[]; certificate?: string };
}

export interface CsrCondition {
  type: string;
  status?: string;
  reason?: string;
  message?: string;
  lastUpdateTime?: string;
}

/** A Node, as far as the approver reads it. */
export interface Node extends KubeObject {
  status?: { addresses?: { type: string; address: string }[] };
}

/** What a PKCS #10 request asks for: its subject's attributes, in order, and its SANs by kind. */
export interface CsrContents {
  subject: { type: string; value: string }[];
  dns: string[];
  ips: string[];
  /** SANs of any other kind (email, URI, ...): the approver never approves those. */
  otherSans: string[];
}

/**
 * Approve (saying why), or leave the CSR to an admin (saying why). `node`:
 * the decision may change once Node `node` exists or lists more addresses.
 */
export type Decision = { t: "approve"; message: string } | { t: "leave"; reason: string; node?: string };

export const csrPath = "/apis/certificates.k8s.io/v1/certificatesigningrequests";
const nodesPath = "/api/v1/nodes";
const servingUsages = new Set(["digital signature", "key encipherment", "server auth"]);
const clientUsages = new Set(["digital signature", "key encipherment", "client auth"]);
const nodePrefix = "system:node:";

/** The contents of a CSR's spec.request (base64 of PEM), or an error as a value. */
export function parseCsrRequest(request: string): { value: CsrContents } | { error: string } {
  try {
    const req = new x509.Pkcs10CertificateRequest(Buffer.from(request, "base64").toString("utf8"));
    const subject = req.subjectName.toJSON().flatMap((rdn) => Object.entries(rdn).flatMap(([type, values]) => values.map((value) => ({ type, value }))));
    const contents: CsrContents = { subject, dns: [], ips: [], otherSans: [] };
    const ext = req.getExtension("2.5.29.17");
    const sans = ext ? new x509.SubjectAlternativeNameExtension(ext.rawData).names.items : [];
    for (const n of sans) {
      if (n.type === "dns") contents.dns.push(n.value);
      else if (n.type === "ip") contents.ips.push(n.value);
      else contents.otherSans.push(`${n.type}:${n.value}`);
    }
    return { value: contents };
  } catch (err) {
    return { error: `spec.request is not a PEM certificate request: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** The node a CSR was requested by (spec.username system:node:<name>), or undefined. */
export function requestingNode(csr: CertificateSigningRequest): string | undefined {
  const u = csr.spec.username ?? "";
  return u.startsWith(nodePrefix) && u.length > nodePrefix.length ? u.slice(nodePrefix.length) : undefined;
}

/** Whether the CSR was approved or denied already (or has its certificate). */
export function decided(csr: CertificateSigningRequest): boolean {
  return !!csr.status?.certificate || (csr.status?.conditions ?? []).some((c) => c.type === "Approved" || c.type === "Denied");
}

/** Whether to approve `csr`, whose request holds `contents`, requested by the node whose Node is `node` (undefined: none). */
export function decide(csr: CertificateSigningRequest, contents: CsrContents, node: Node | undefined): Decision {
  const name = requestingNode(csr);
  if (!name) return leave(`requested by ${csr.spec.username ?? "(nobody)"}, not a node`);
  if (!(csr.spec.groups ?? []).includes("system:nodes")) return leave(`requested by ${csr.spec.username}, not in group system:nodes`);
  if (!node) return leave(`requested by ${csr.spec.username}, but there is no Node ${name} (yet)`, name);
  if (csr.spec.signerName === "kubernetes.io/kubelet-serving") return decideServing(csr, contents, name, node);
  if (csr.spec.signerName === "kubernetes.io/kube-apiserver-client") return decideKubeProxy(csr, contents, name);
  return leave(`signer ${csr.spec.signerName} is not one kiln approves`);
}

/** A kubelet's serving certificate: its own name, group system:nodes, and only its Node's addresses. */
function decideServing(csr: CertificateSigningRequest, c: CsrContents, name: string, node: Node): Decision {
  const subject = subjectProblem(c, `${nodePrefix}${name}`, ["system:nodes"]);
  if (subject) return leave(subject);
  const usages = usageProblem(csr, servingUsages, "server auth");
  if (usages) return leave(usages);
  if (c.otherSans.length) return leave(`SANs other than DNS names and IPs: ${c.otherSans.join(", ")}`);
  if (c.dns.length + c.ips.length === 0) return leave("no DNS or IP SAN");
  const addresses = node.status?.addresses ?? [];
  const known = new Set(addresses.map((a) => (isIP(a.address) ? normalizeIp(a.address) : a.address.toLowerCase())));
  const foreign = [...c.dns.map((d) => d.toLowerCase()), ...c.ips.map(normalizeIp)].filter((s) => !known.has(s));
  if (foreign.length) return leave(`SANs not among Node ${name}'s addresses: ${foreign.join(", ")}`, name);
  return { t: "approve", message: `kiln: serving certificate of node ${name} for its own addresses (${[...c.dns, ...c.ips].join(", ")})` };
}

/** kube-proxy's client certificate, requested by a node: CN=system:kube-proxy, no O, no SANs, client auth. */
function decideKubeProxy(csr: CertificateSigningRequest, c: CsrContents, name: string): Decision {
  const subject = subjectProblem(c, "system:kube-proxy", []);
  if (subject) return leave(subject);
  if (c.dns.length + c.ips.length + c.otherSans.length) return leave("a kube-proxy client certificate has no SANs");
  const usages = usageProblem(csr, clientUsages, "client auth");
  if (usages) return leave(usages);
  return { t: "approve", message: `kiln: kube-proxy client certificate requested by node ${name}` };
}

/** Why the subject is not exactly CN=`cn` with Organizations `orgs`, or undefined. */
function subjectProblem(c: CsrContents, cn: string, orgs: string[]): string | undefined {
  const got = c.subject.map((a) => `${a.type}=${a.value}`).join(", ") || "(empty)";
  const cns = c.subject.filter((a) => a.type === "CN").map((a) => a.value);
  const os = c.subject.filter((a) => a.type === "O").map((a) => a.value);
  const others = c.subject.filter((a) => a.type !== "CN" && a.type !== "O");
  const same = cns.length === 1 && cns[0] === cn && others.length === 0 && os.length === orgs.length && orgs.every((o) => os.includes(o));
  return same ? undefined : `subject ${got}, expected CN=${cn}${orgs.map((o) => `, O=${o}`).join("")}`;
}

/** Why the usages are not within `allowed` or lack `needed`, or undefined. */
function usageProblem(csr: CertificateSigningRequest, allowed: Set<string>, needed: string): string | undefined {
  const usages = csr.spec.usages ?? [];
  const extra = usages.filter((u) => !allowed.has(u));
  if (extra.length) return `usages ${extra.join(", ")} are not allowed (only ${[...allowed].join(", ")})`;
  return usages.includes(needed) ? undefined : `usages lack ${needed}`;
}

function leave(reason: string, node?: string): Decision {
  return node === undefined ? { t: "leave", reason } : { t: "leave", reason, node };
}

/** An IP address in one spelling: IPv4 as is, IPv6 as eight groups of four hex digits. */
export function normalizeIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  const [head = "", tail] = ip.toLowerCase().split("::");
  const groups = (s: string | undefined) => (s ? s.split(":") : []);
  const h = groups(head);
  const t = groups(tail);
  const v4 = t.length ? t[t.length - 1] : h[h.length - 1];
  const last = v4?.includes(".") ? v4.split(".").map(Number) : undefined;
  const fromV4 = last ? [((last[0]! << 8) | last[1]!).toString(16), ((last[2]! << 8) | last[3]!).toString(16)] : [];
  if (last) (t.length ? t : h).pop();
  const all = tail === undefined ? [...h, ...fromV4] : [...h, ...Array(8 - h.length - t.length - fromV4.length).fill("0"), ...t, ...fromV4];
  return all.map((g) => g.padStart(4, "0")).join(":");
}

/** The approval body: `csr` with an Approved condition saying why. */
export function approval(csr: CertificateSigningRequest, message: string, now = new Date()): CertificateSigningRequest {
  const condition: CsrCondition = { type: "Approved", status: "True", reason: "KilnApprove", message, lastUpdateTime: now.toISOString() };
  return { ...csr, status: { ...csr.status, conditions: [...(csr.status?.conditions ?? []), condition] } };
}

export interface ApproverOptions {
  /** One line per decision and per error. */
  log?: (line: string) => void;
  /** First and longest wait between reconnections; default 1 s and 30 s. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

/** Decides one CSR and approves it when it should be; resolves with the decision (undefined: decided before). */
export async function handleCsr(client: KubeClient, csr: CertificateSigningRequest): Promise<Decision | undefined> {
  if (decided(csr)) return undefined;
  const parsed = parseCsrRequest(csr.spec.request);
  if ("error" in parsed) return leave(parsed.error);
  const name = requestingNode(csr);
  const node = name ? await client.getOptional<Node>(`${nodesPath}/${encodeURIComponent(name)}`) : undefined;
  const decision = decide(csr, parsed.value, node);
  if (decision.t === "approve") {
    const path = `${csrPath}/${encodeURIComponent(csr.metadata?.name ?? "")}/approval`;
    await client.put(path, approval(csr, decision.message));
  }
  return decision;
}

/** Lists and watches CSRs, approving those `decide` approves, until `signal` aborts; errors reconnect with backoff. */
export async function runCsrApprover(client: KubeClient, signal: AbortSignal, opts: ApproverOptions = {}): Promise<void> {
  const log = logOnce(opts.log ?? (() => {}));
  const minMs = opts.minBackoffMs ?? 1000;
  let backoffMs = minMs;
  while (!signal.aborted) {
    try {
      await listAndWatch(client, signal, log);
      backoffMs = minMs;
    } catch (err) {
      if (signal.aborted) break;
      log(`csr approver: ${err instanceof Error ? err.message : String(err)}; again in ${backoffMs} ms`);
      await sleep(backoffMs, undefined, { signal }).catch(() => {});
      backoffMs = Math.min(backoffMs * 2, opts.maxBackoffMs ?? 30_000);
    }
  }
}

type Log = (line: string, csr?: string) => void;

/** A CSR left pending until its Node exists or changes, and that Node's name. */
type Waiting = Map<string, { node: string; csr: CertificateSigningRequest }>;

/**
 * One round: CSRs and Nodes listed, then watched together, until either
 * watch ends or fails. A CSR is handled as it is listed or changes, and again
 * whenever the Node it waits for is listed, added or changed. Every handling
 * goes through one queue, so one CSR is never approved twice at once.
 */
async function listAndWatch(client: KubeClient, signal: AbortSignal, log: Log): Promise<void> {
  const round = new AbortController();
  const stop = () => round.abort();
  signal.addEventListener("abort", stop, { once: true });
  const waiting: Waiting = new Map();
  let queue = Promise.resolve();
  const enqueue = (work: () => Promise<void>) => {
    queue = queue.then(work);
    return queue;
  };
  const handle = (csr: CertificateSigningRequest) => enqueue(() => handleAndLog(client, csr, log, waiting));
  const nodeChanged = (name: string | undefined) =>
    enqueue(async () => {
      for (const w of [...waiting.values()]) if (w.node === name) await handleAndLog(client, w.csr, log, waiting);
    });
  const deleted = (csr: CertificateSigningRequest) =>
    enqueue(async () => {
      waiting.delete(csr.metadata?.name ?? "");
    });
  const watches = [
    listWatch<CertificateSigningRequest>(client, csrPath, round.signal, handle, deleted),
    listWatch<Node>(client, nodesPath, round.signal, (n) => nodeChanged(n.metadata?.name)),
  ];
  try {
    await Promise.race(watches);
  } finally {
    round.abort();
    signal.removeEventListener("abort", stop);
    await Promise.allSettled([...watches, queue]);
  }
}

/** Lists `path` and watches it from there, passing each object listed, added or changed to `seen` and each deleted one to `gone`, until the watch ends (410 Gone too: list again). */
async function listWatch<T>(client: KubeClient, path: string, signal: AbortSignal, seen: (o: T) => Promise<void>, gone?: (o: T) => Promise<void>): Promise<void> {
  const list = await client.list<T>(path);
  for (const o of list.items) await seen(o);
  for await (const ev of client.watch<T>(path, list.metadata.resourceVersion, signal)) {
    if (ev.type === "ERROR") {
      if (ev.object.code === 410) return;
      throw new Error(`watching ${path}: ${ev.object.message ?? "error event"}`);
    }
    if (ev.type === "ADDED" || ev.type === "MODIFIED") await seen(ev.object);
    else if (ev.type === "DELETED" && gone) await gone(ev.object);
  }
}

/** A log that says why a CSR is left pending only when the reason changed (each list would repeat it). */
function logOnce(log: (line: string) => void): (line: string, csr?: string) => void {
  const said = new Map<string, string>();
  return (line, csr) => {
    if (csr !== undefined && said.get(csr) === line) return;
    if (csr !== undefined) said.set(csr, line);
    if (said.size > 10_000) said.clear();
    log(line);
  };
}

/** handleCsr, logging its decision and noting whether it waits for a Node; an error with one CSR is logged, not thrown (the next list retries it). */
async function handleAndLog(client: KubeClient, csr: CertificateSigningRequest, log: Log, waiting: Waiting): Promise<void> {
  const name = csr.metadata?.name ?? "(unnamed)";
  try {
    const d = await handleCsr(client, csr);
    if (d?.t === "leave" && d.node !== undefined) waiting.set(name, { node: d.node, csr });
    else waiting.delete(name);
    if (d?.t === "approve") log(`csr ${name}: approved: ${d.message}`);
    else if (d) log(`csr ${name}: left pending for an admin: ${d.reason}`, name);
  } catch (err) {
    log(`csr ${name}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
