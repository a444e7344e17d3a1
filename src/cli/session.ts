// What a command runs with: its output format and writers, and for commands
// that call the machine, a connected client. Errors leave named by `what`.
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import type { Command } from "commander";
import { MachineService } from "../gen/kiln/machine/v1/machine_pb.js";
import { type CallOpts, type Client, createClient } from "../grpc/client.js";
import { ApiError, Code } from "../grpc/errors.js";
import type { CliDeps } from "./deps.js";
import { toCliError } from "./errors.js";
import { type Globals, resolveGlobals } from "./global-options.js";
import { explainRefusal, openConnection } from "./kilnconfig-connection.js";
import type { Format } from "./output.js";

type Methods = typeof MachineService extends GenService<infer M> ? M : never;
export type MachineClient = Client<Methods>;

export interface Session {
  format: Format;
  deps: CliDeps;
  print(text: string | Uint8Array): void;
  /** Progress for long work: to stderr, only when it is a terminal. */
  progress(step: string): void;
  /** A warning on stderr. */
  warn(text: string): void;
}

export interface MachineSession extends Session {
  client: MachineClient;
  /** The endpoint connected to, as messages name it. */
  endpoint: string;
  /** The nodes the calls target through it (the `nodes` metadata); empty: the endpoint itself. */
  nodes: string[];
  /** Options for a unary call (its deadline). */
  call: CallOpts;
  /** Runs a stream until it ends or Ctrl-C; Ctrl-C is a clean end. */
  untilInterrupted(run: (signal: AbortSignal) => Promise<void>): Promise<void>;
}

/** A session for an offline command. */
export function createSession(cmd: Command, deps: CliDeps, skipOwn: string[] = []): Session & { globals: Globals } {
  const globals = resolveGlobals(cmd, deps.io.env, skipOwn);
  const { stdout, stderr } = deps.io;
  return {
    globals,
    format: globals.format,
    deps,
    print: (text) => stdout.write(text),
    progress: (step) => {
      if (stderr.isTTY) stderr.write(`kilnctl: ${step}…\n`);
    },
    warn: (text) => stderr.write(`kilnctl: warning: ${text}\n`),
  };
}

/** Connects to the machine API (see kilnconfig-connection.ts), runs `fn`, and closes the connection; failures name `what`. */
export async function withMachine(
  cmd: Command,
  deps: CliDeps,
  what: string,
  fn: (m: MachineSession) => Promise<void>,
  skipOwn: string[] = [],
): Promise<void> {
  return withMachineAt(createSession(cmd, deps, skipOwn), deps, what, fn);
}

/** withMachine for a session made without a command line (cluster create's own calls to the machines it made). */
export async function withMachineAt(base: Session & { globals: Globals }, deps: CliDeps, what: string, fn: (m: MachineSession) => Promise<void>): Promise<void> {
  const conn = await openConnection(base.globals, deps.io.env);
  const { endpoint, nodes } = conn;
  const client = createClient(MachineService, conn.target, conn.credentials, conn.options);
  const call = base.globals.timeoutMs > 0 ? { timeoutMs: base.globals.timeoutMs } : {};
  const session = { ...base, client, endpoint, nodes, call, untilInterrupted: (run: (s: AbortSignal) => Promise<void>) => untilInterrupted(deps, run) };
  try {
    await fn(session);
  } catch (err) {
    throw toCliError(explainRefusal(err, endpoint), { what, endpoint, timeout: base.globals.timeoutText });
  } finally {
    client.close();
  }
}

/** Runs `run` with a signal that Ctrl-C aborts; the CANCELLED that follows is not a failure. */
async function untilInterrupted(deps: CliDeps, run: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const ac = new AbortController();
  const off = deps.io.onInterrupt(() => ac.abort());
  try {
    await run(ac.signal);
  } catch (err) {
    if (!(ac.signal.aborted && err instanceof ApiError && err.code === Code.CANCELLED)) throw err;
  } finally {
    off();
  }
}
