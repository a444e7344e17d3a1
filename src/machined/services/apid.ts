// apid: the machine API on the network (src/apid/). It runs as user apid
// (uid/gid 50, see rootfs/files/etc/passwd) and so with no capabilities;
// at each start machined writes its TLS files while apid's node starts, and
// in maintenance mode (no config) starts it with --maintenance.
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { createConnection } from "node:net";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import type { MachineConfig } from "../../config/schema.js";
import { ApiError, codeName } from "../../grpc/errors.js";
import { apidArgsOnStdin, apidPort, trustPort } from "../../machinery/apid.js";
import { endpointHost, hostPort } from "../../machinery/endpoint.js";
import { decodeBase64Pem } from "../../pki/pem.js";
import { cgroupPaths, imagePaths } from "../../machinery/paths.js";
import { apidSans, issueServerCertFor, localAddresses, writeApidTls, writeApiLists, writeServerCert } from "../apid-tls.js";
import type { EventBus } from "../events.js";
import type { Condition, HealthCheck, MachineContext, ServiceDefinition } from "../service.js";
import { errorText } from "../supervisor/exit.js";
import { sleep } from "../supervisor/wait.js";
import { type IssuedServerCert, requestServerCert, type TrustTarget } from "../trust/request.js";
import { type Prespawned, prespawn } from "../supervisor/prespawn.js";
import { processRunner } from "../supervisor/process-runner.js";
import type { Supervisor } from "../supervisor/supervisor.js";

/** apid's user and group (rootfs/files/etc/passwd, /etc/group). */
export const apidUser = { uid: 50, gid: 50 } as const;

/** apid's directory under /run: its TLS files and machined's socket for it. */
export function apidPaths(m: Pick<MachineContext, "paths">) {
  const dir = m.paths.run("apid");
  return { dir, tls: join(dir, "tls"), machinedSocket: join(dir, "machined.sock") };
}

export interface ApidServiceOptions {
  /** Maintenance mode: the self-signed certificate's SHA-256 fingerprint, for the console. */
  onMaintenance(fingerprint: string): void;
  /** apid's TLS directory was written in mTLS mode, its certificate holding `sans` (machined updates its deny list there on apply). */
  onTlsWritten?(dir: string, sans: string[]): void;
  /** How to run apid; default: this node with apid's bundle (tests give a freshly built one). */
  command?: string[];
  /** Default 50000. */
  port?: number;
  /** The trust port, served on control planes and asked on workers; default 50001. */
  trustPort?: number;
  /** An apid started ahead (prespawnApid), for the first start to take; called once per start. */
  takePrespawned?(): Prespawned | undefined;
}

/** Why apid does not run on a configured machine that can neither issue its certificate nor ask for one. */
export const noCaReason =
  "the config has no machine.ca key to issue apid's certificate with, nor machine.token and cluster.controlPlane.endpoint to ask a control plane for one (kilnctl gen config writes them); only the local socket answers";

/** Where a machine without machine.ca's key asks for its certificate; undefined when it has the key, or cannot ask. */
export function trustTarget(config: MachineConfig | undefined, port = trustPort): TrustTarget | undefined {
  const m = config?.machine;
  const endpoint = config?.cluster?.controlPlane?.endpoint;
  if (!m?.ca || m.ca.key || !m.token || !endpoint) return undefined;
  return { host: endpointHost(endpoint), port, ca: decodeBase64Pem(m.ca.crt), token: m.token };
}

/**
 * apid's condition on a machine without machine.ca's key: a server
 * certificate from the control plane's trust port, asked for every `everyMs`
 * (the control plane may boot after this machine) until one comes, the
 * Waiting message saying what the last attempt met. Held in `hold` for prepare.
 */
export function issuedByControlPlane(hold: { issued?: IssuedServerCert }, port = trustPort, everyMs = 5000): Condition {
  return {
    describe: "apid's certificate from the control plane (machine.token, sent to cluster.controlPlane.endpoint's trust port)",
    wait: async (m, signal, note) => {
      hold.issued = undefined;
      const target = trustTarget(m.config, port);
      if (!target) return;
      for (;;) {
        // Link-local addresses (one per pod's veth) are left out: no client reaches apid there, and they could be hundreds.
        const names = { commonName: hostname(), sans: apidSans(m.config, hostname(), localAddresses().filter((a) => !isLinkLocal(a))) };
        try {
          hold.issued = await requestServerCert(target, names, { signal });
          return;
        } catch (err) {
          if (signal.aborted) throw signal.reason;
          note?.(`${hostPort(target.host, target.port)}: ${errorChain(err)}`);
        }
        await sleep(everyMs, signal);
        if (signal.aborted) throw signal.reason;
      }
    },
  };
}

/** An IPv6 link-local (fe80::/10) or IPv4 link-local (169.254/16) address. */
function isLinkLocal(address: string): boolean {
  return /^fe[89ab][0-9a-f]:/i.test(address) || address.startsWith("169.254.");
}

/** What an attempt met, on one line: the control plane's status and message, or the error and its causes. */
function errorChain(err: unknown): string {
  return err instanceof ApiError ? `${codeName(err.code)}: ${err.message}` : errorText(err);
}

/**
 * apid's OOM score: above Guaranteed pods (-997) so a swollen apid is killed
 * before them, below BestEffort and Burstable ones; containerd (-999) and
 * machined stay lower still. apid restarts (restart: "forever"), a workload may not.
 */
export const apidOomScoreAdj = -500;

/**
 * The apid service; `onMaintenance` tells machined what operators must see.
 * Its certificates are made while apid's node starts (prepareAlongside):
 * each start stamps its TLS directory anew, and apid, given the stamp, reads
 * the directory once the `complete` file holds it (~1.5 s of a boot under TCG).
 */
export function apidService(o: ApidServiceOptions): ServiceDefinition {
  const port = o.port ?? apidPort;
  const hold: { issued?: IssuedServerCert; stamp?: string } = {};
  return {
    id: "apid",
    dependsOn: [],
    skip: (m) => (m.config && !m.config.machine.ca?.key && !trustTarget(m.config) ? noCaReason : undefined),
    conditions: [issuedByControlPlane(hold, o.trustPort)],
    prepareAlongside: true,
    prepare: async (m) => {
      // Set before the first await: run() passes it to the apid started beside this prepare.
      const stamp = randomUUID();
      hold.stamp = stamp;
      const issued = hold.issued ? { issued: hold.issued } : {};
      const tls = await writeApidTls({ dir: apidPaths(m).tls, config: m.config, hostname: hostname(), owner: apidOwner(), stamp, ...issued });
      if (tls.mode === "maintenance") o.onMaintenance(tls.fingerprint);
      else o.onTlsWritten?.(apidPaths(m).tls, tls.sans);
    },
    run: (m) => {
      // Each start's stamp is taken once: a run() without its prepare's stamp is a bug, not an older directory to read.
      const stamp = hold.stamp;
      hold.stamp = undefined;
      if (stamp === undefined) throw new Error("apid's run() found no TLS stamp: prepare must set it before its first await");
      const args = [...apidArgs(m, port, o.trustPort ?? trustPort), "--tls-stamp", stamp];
      const runner = processRunner([...apidCommand(o), ...args], apidProcess(), m);
      const early = o.takePrespawned?.();
      return early ? { start: (log, scope) => early.take(args, log) ?? runner.start(log, scope) } : runner;
    },
    restart: "forever",
    // Its start period covers the certificates it may wait for, under TCG on a loaded host.
    health: { check: listening(port), initialDelayMs: 200, intervalMs: 5000, startPeriodMs: 30_000 },
    stopGraceMs: 5000,
  };
}

/** How apid is run: the options' command, else this node with apid's bundle. */
function apidCommand(o: Pick<ApidServiceOptions, "command">): string[] {
  return o.command ?? [process.execPath, apidScript()];
}

/** apid's process: its user, its OOM score, its cgroup. */
function apidProcess() {
  return { ...apidOwner(), oomScoreAdj: apidOomScoreAdj, cgroup: cgroupPaths.apid };
}

/** apid started now, before its first start is asked for: its node and bundle load meanwhile, and it waits for its arguments on stdin. */
export function prespawnApid(o: Pick<ApidServiceOptions, "command">, m: MachineContext): Prespawned {
  return prespawn([...apidCommand(o), apidArgsOnStdin], apidProcess(), m);
}

/** apid's arguments: its files, its port, --maintenance while there is no config, the trust port on a control plane that can sign. */
function apidArgs(m: MachineContext, port: number, trust: number): string[] {
  const p = apidPaths(m);
  const mode = m.config ? (issuesCertificates(m.config) ? ["--trust-port", String(trust)] : []) : ["--maintenance"];
  return ["--tls-dir", p.tls, "--machined-socket", p.machinedSocket, "--port", String(port), ...mode];
}

/** A control plane with machine.ca's key and machine.token signs other machines' certificates. */
export function issuesCertificates(config: MachineConfig): boolean {
  return config.machine.type === "controlplane" && config.machine.ca?.key !== undefined && config.machine.token !== undefined;
}

/** apid's user when machined can switch to it (root); none otherwise (tests, development). */
export function apidOwner(): typeof apidUser | undefined {
  return process.getuid?.() === 0 ? apidUser : undefined;
}

/** apid's bundle: next to machined's (both in /usr/lib/kiln in the image), else the image's path. */
function apidScript(): string {
  const sibling = join(dirname(fileURLToPath(import.meta.url)), "apid.cjs");
  return existsSync(sibling) ? sibling : join(imagePaths.kilnLib, "apid.cjs");
}

/** Healthy when something accepts TCP connections on the loopback port. */
function listening(port: number): HealthCheck {
  return (_m, signal) =>
    new Promise((ok, fail) => {
      const sock = createConnection({ host: "127.0.0.1", port });
      const abort = () => sock.destroy(new Error(`connecting to 127.0.0.1:${port}: aborted`));
      signal.addEventListener("abort", abort, { once: true });
      sock.once("connect", () => {
        sock.destroy();
        ok();
      });
      sock.once("error", (err) => fail(new Error(`connecting to 127.0.0.1:${port}`, { cause: err })));
      sock.once("close", () => signal.removeEventListener("abort", abort));
    });
}

/** What machined does about apid besides supervising it. */
export interface ApidControl {
  definition: ServiceDefinition;
  /** After a config was applied live: restart apid if it serves maintenance mode or its certificate must change; update its deny list. */
  afterApply(prev: MachineConfig | undefined, next: MachineConfig): void;
  /** Starts apid's process now, for its first start to take (ended if none has within a minute). */
  prespawn(m: MachineContext): void;
}

/** How long a prespawned apid waits to be taken before it is ended (apid skipped, or waiting for a control plane). */
const prespawnKeepMs = 60_000;

export interface ApidControlDeps {
  supervisor: Pick<Supervisor, "restart">;
  /** Options for the service besides onMaintenance (tests). */
  service?: Omit<ApidServiceOptions, "onMaintenance">;
  events: EventBus;
  log(line: string): void;
  /** Wait before restarting, so the reply to ApplyConfiguration leaves through apid first. Default 250. */
  restartDelayMs?: number;
  /** The machine's addresses (tests); default: every local interface's. */
  addresses?: () => string[];
  /** How often the addresses are compared with the certificate's, for those no event announces. Default 10 s. */
  addressPollMs?: number;
}

/** apid's service, announcing maintenance mode on the console and as an event, restarted when the config requires. */
export function createApidControl(d: ApidControlDeps): ApidControl {
  const addresses = d.addresses ?? localAddresses;
  let maintenance = false;
  // apid's TLS directory in mTLS mode, once written.
  let tlsDir: string | undefined;
  // The names and addresses apid's mTLS certificate holds.
  let covered = new Set<string>();
  let restartPending = false;
  const onMaintenance = (fingerprint: string) => {
    maintenance = true;
    const message = `maintenance mode: apid certificate fingerprint ${fingerprint}`;
    d.log(message);
    d.events.publish({ t: "machine", stage: "maintenance", message });
  };
  const restartSoon = (why: string) => {
    if (restartPending) return;
    restartPending = true;
    setTimeout(() => {
      restartPending = false;
      d.log(`restarting apid: ${why}`);
      d.supervisor.restart("apid").catch((err: Error) => d.log(`restarting apid: ${err.message}`));
    }, d.restartDelayMs ?? 250);
  };
  // The context of apid's last start: its config is the machine's live one.
  let context: MachineContext | undefined;
  // Replacements, one after another.
  let replacing: Promise<void> = Promise.resolve();
  let replacePending = false;
  // Replacements queued or being issued: the poll waits for them (each looks for missing addresses when it is done).
  let replacesQueued = 0;
  /** A server certificate with every address, renamed into apid's directory for apid to swap in; else a restart. */
  const replaceSoon = (why: string) => {
    if (replacePending) return;
    replacePending = true;
    setTimeout(() => {
      replacePending = false;
      replacesQueued++;
      replacing = replacing.then(() => replaceCertificate(why)).finally(() => replacesQueued--);
    }, d.restartDelayMs ?? 250);
  };
  const replaceCertificate = async (why: string) => {
    const dir = tlsDir;
    const config = context?.config;
    // A start under way writes the whole directory, then looks for missing addresses again.
    if (preparing > 0 || !dir || maintenance) return;
    // Without the CA's key the certificate is a control plane's, asked for at each start.
    if (!config?.machine.ca?.key) return restartSoon(why);
    try {
      const next = await issueServerCertFor({ config, hostname: hostname(), addresses: addresses() });
      // A start began while it was issued: it rebuilds the directory with the addresses it finds (and checks them after).
      if (preparing > 0 || tlsDir !== dir) return;
      writeServerCert(dir, next.cert, apidOwner());
      covered = new Set(next.sans);
      d.log(`apid: a new server certificate, served without a restart: ${why}`);
    } catch (err) {
      return restartSoon(`${why}; its certificate could not be replaced in place (${(err as Error).message})`);
    }
    lacksAddress();
  };
  /**
   * Replaces apid's certificate when the machine has an address it lacks: one added while it was being issued, or
   * one the kernel added itself (IPv6 autoconfiguration), which no event announces. Link-local addresses (one per
   * pod's veth) are not asked for: no client reaches apid there.
   */
  const lacksAddress = () => {
    const missed = addresses().find((a) => !covered.has(a) && !isLinkLocal(a));
    if (missed) replaceSoon(`its certificate lacks the new address ${missed}`);
  };
  setInterval(() => {
    if (!maintenance && tlsDir && !replacePending && replacesQueued === 0) lacksAddress();
  }, d.addressPollMs ?? 10_000).unref();
  // An address added after apid's certificate was issued (a DHCP lease or an IPv6 router's prefix that came after
  // apid started): clients reaching the machine there would be refused, so a certificate is issued again, and apid
  // serves it without a restart. Maintenance mode's self-signed one is pinned by fingerprint, and stays.
  followAddresses(d.events, (address) => {
    if (!maintenance && tlsDir && !covered.has(address)) replaceSoon(`its certificate lacks the new address ${address}`);
  });
  let early: Prespawned | undefined;
  const definition = apidService({
    ...d.service,
    takePrespawned: () => {
      const taken = early;
      early = undefined;
      return taken;
    },
    onMaintenance,
    onTlsWritten: (dir, sans) => {
      tlsDir = dir;
      covered = new Set(sans);
      lacksAddress();
    },
  });
  /** machine.api's lists replaced in apid's live directory; apid reads them at its next call. */
  const writeListsInPlace = (dir: string, next: MachineConfig) => {
    try {
      writeApiLists(dir, next, apidOwner());
      const peers = next.machine.api?.peers;
      d.log(`apid: ${next.machine.api?.deniedCertificates?.length ?? 0} denied client certificates; peers: ${peers ? peers.length : "this machine's networks"}`);
    } catch (err) {
      // A restart writes the whole directory again, the lists with it.
      restartSoon(`its denied certificates and peers could not be updated in place (${(err as Error).message})`);
    }
  };
  // While a start's prepare rebuilds the TLS directory, the lists must not be written into it in place:
  // prepare creates them exclusively (and from the config it started with).
  let preparing = 0;
  const prepare = definition.prepare!;
  return {
    definition: {
      ...definition,
      // prepare(m) is called before this function's first await: it sets the start's stamp before run() is called.
      prepare: async (m) => {
        preparing++;
        context = m;
        try {
          await prepare(m);
        } finally {
          preparing--;
        }
      },
    },
    afterApply: (prev, next) => {
      if (!maintenance && tlsDir && !isDeepStrictEqual(prev?.machine.api, next.machine.api)) {
        // A restart waits for the prepare under way, then writes the whole directory from this config.
        if (preparing > 0) restartSoon("its denied certificates or peers changed while its TLS directory was being written");
        else writeListsInPlace(tlsDir, next);
      }
      if (maintenance) restartSoon("configured; leaving maintenance mode for mTLS");
      else if (prev && certificateInputsChanged(prev, next)) restartSoon("its certificate's names or CA changed");
      maintenance = false;
    },
    prespawn: (m) => {
      early?.discard();
      const started = prespawnApid(d.service ?? {}, m);
      early = started;
      // Ended unless a start took it: one handed to a run whose start never came (no take) is ended too.
      setTimeout(() => {
        if (early === started) early = undefined;
        started.discard();
      }, prespawnKeepMs).unref();
    },
  };
}

/** Calls `added` with each address (no prefix length) the network adds from now on, for the machine's lifetime. */
function followAddresses(events: EventBus, added: (address: string) => void): void {
  const follow = async (sinceId: number): Promise<void> => {
    let last = sinceId;
    try {
      for await (const e of events.watch({ tail: 0, sinceId, follow: true })) {
        last = e.id;
        if (e.payload.t === "network" && e.payload.kind === "address-added" && e.payload.address) added(e.payload.address.replace(/\/\d+$/, ""));
      }
    } catch {
      // Fell behind the ring (a burst of events): go on after the last one seen.
      return follow(last);
    }
  };
  void follow(0);
}

/** Whether what apid's certificate is made from (CA, SANs, hostname, addresses; the token and endpoint it is asked for with) changed. */
export function certificateInputsChanged(prev: MachineConfig, next: MachineConfig): boolean {
  const inputs = (c: MachineConfig) => [c.machine.ca, c.machine.certSANs, c.machine.hostname, c.machine.network, c.machine.token, c.cluster?.controlPlane?.endpoint];
  return !isDeepStrictEqual(inputs(prev), inputs(next));
}
