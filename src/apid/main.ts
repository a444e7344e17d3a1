// apid: the machine API on the network. An unprivileged process (uid apid,
// no capabilities) that machined supervises: it terminates TLS on :50000,
// admits each call by the client certificate's role and forwards it, as
// bytes, to machined's socket for apid. PID 1 never parses network input.
import { join } from "node:path";
import { apidTlsFiles } from "../machinery/apid.js";
import { deniedCertificatesFile } from "./denied-certificates.js";
import { createRemotes } from "./fan-out.js";
import { peersFile } from "./peers-file.js";
import { apidArgsOnStdin } from "../machinery/apid.js";
import { argsFromStdin } from "./args-on-stdin.js";
import { type ApidArgs, parseApidArgs } from "./options.js";
import { selfRoute } from "./self.js";
import { startApid } from "./server.js";
import { startTrust } from "./trust.js";
import { readClientTls, readServerTls } from "./tls-credentials.js";
import { tlsComplete } from "./tls-complete.js";
import { reloadServerCertificate } from "./certificate-reload.js";
import { createLanes } from "./lanes.js";
import { codeCacheState } from "../machinery/code-cache-state.js";

/** apid's log: stdout, which machined keeps as the service's log. */
function log(line: string): void {
  process.stdout.write(`[apid] ${line}\n`);
}

async function main(): Promise<void> {
  let argv = process.argv.slice(2);
  if (argv.length === 1 && argv[0] === apidArgsOnStdin) {
    const given = await argsFromStdin(process.stdin);
    if (!given) return; // not needed after all
    argv = given;
  }
  const args = parseApidArgs(argv);
  if ("error" in args) {
    log(args.error);
    process.exitCode = 2;
    return;
  }
  const apid = await serve(args.value);
  // Calls under way may finish (the reply to the ApplyConfiguration that restarts us); follow streams are cut after 2 s.
  process.once("SIGTERM", () => void apid.close(2000).then(() => process.exit(0)));
  process.once("SIGINT", () => void apid.close(1000).then(() => process.exit(0)));
}

/** Reads the TLS files, connects to machined and starts listening. */
async function serve(a: ApidArgs) {
  const mtls = a.mode === "mtls";
  if (a.tlsStamp !== undefined) await tlsComplete(a.tlsDir, a.tlsStamp, () => log(`waiting for machined to finish writing ${a.tlsDir}`));
  const tls = await readServerTls(a.tlsDir, mtls);
  const machined = createLanes(a.machinedSocket);
  const port = listenPort(a.listen);
  const self = port === undefined ? undefined : selfRoute(machined, port);
  const remotes = createRemotes(mtls ? await readClientTls(a.tlsDir) : undefined, peersFile(join(a.tlsDir, apidTlsFiles.peers)), undefined, self);
  const denied = mtls ? { denied: deniedCertificatesFile(join(a.tlsDir, apidTlsFiles.denied)) } : {};
  const apid = await startApid({ mode: a.mode, tls, listen: a.listen, machined, remotes, ...denied });
  log(`serving ${mtls ? "mTLS (client certificates required)" : "maintenance mode (TLS, no client certificate)"} on port ${apid.ports.join(", ")}, uid ${process.getuid?.()}${cacheNote()}`);
  const trust = a.trustListen ? await startTrust({ tls: { cert: tls.cert, key: tls.key }, listen: a.trustListen, machined }) : undefined;
  if (trust) log(`issuing machine certificates to holders of the machine token on port ${trust.ports.join(", ")} (TLS, no client certificate)`);
  // Maintenance mode's self-signed certificate is pinned by its fingerprint: it is never replaced.
  const reload = mtls
    ? reloadServerCertificate(a.tlsDir, tls, (next) => {
        apid.replaceCertificate(next);
        trust?.replaceCertificate({ cert: next.cert, key: next.key });
      }, log)
    : undefined;
  const close = async (ms: number) => {
    reload?.close();
    await Promise.all([apid.close(ms), trust?.close(ms)]);
    remotes.close();
    machined.close();
  };
  return { close };
}

/** The port apid listens on when every listen address names the same one (the machine's case); undefined otherwise. */
function listenPort(listen: string[][]): number | undefined {
  const ports = new Set(listen.flat().map((a) => Number(/:(\d+)$/.exec(a)?.[1])));
  const [port] = ports;
  return ports.size === 1 && port !== undefined && port > 0 ? port : undefined;
}

main().catch((err: unknown) => {
  log(`fatal: ${err instanceof Error ? describe(err) : String(err)}`);
  process.exit(1);
});

/** An error and its causes on one line. */
function describe(err: Error): string {
  const cause = err.cause instanceof Error ? `: ${describe(err.cause)}` : "";
  return `${err.message}${cause}`;
}

/** What the image's loader did with apid's V8 code cache, for the first line of its log. */
function cacheNote(): string {
  const state = codeCacheState();
  return state ? `, code cache ${state}` : "";
}

