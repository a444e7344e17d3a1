// A recording Sys for unit tests: every call lands in `calls`, nothing
// touches the kernel. Tests can make a call fail with an errno, or answer it.
import { constants } from "node:os";
import { type Sys, SysError, type WaitResult } from "./sys.js";

export type SysCallName = keyof Sys;

/** One recorded call, e.g. { name: "mount", args: ["proc", "/proc", "proc", 14, undefined] }. */
export interface SysCall {
  name: SysCallName;
  args: unknown[];
}

/** Decides whether a rule applies to a call's arguments. */
export type ArgsPredicate = (...args: never[]) => boolean;

/** Computes a call's return value from its arguments. */
export type Answer = (...args: never[]) => unknown;

export interface FakeSys extends Sys {
  readonly calls: SysCall[];
  /** Makes matching calls throw SysError with `code` (default EPERM) until cleared. */
  failOn(name: SysCallName, predicate?: ArgsPredicate, code?: string): void;
  /** Makes matching calls return what `answer` returns (after recording them). */
  respond(name: SysCallName, answer: Answer): void;
  /** Forgets every failOn rule. */
  clearFailures(): void;
  /** The calls of one name, arguments only. */
  argsOf(name: SysCallName): unknown[][];
}

/** Thrown by the fake execve: the process image would be replaced here. */
export class FakeExec extends Error {
  override name = "FakeExec";
  constructor(
    readonly path: string,
    readonly argv: string[],
    readonly env: string[],
  ) {
    super(`execve(${path}) called on the fake sys`);
  }
}

interface FailRule {
  name: SysCallName;
  predicate: ArgsPredicate | undefined;
  code: string;
}

/** Default answers for calls that return something. */
function defaultAnswer(name: SysCallName, args: unknown[], pid: number): unknown {
  if (name === "getpid") return pid;
  if (name === "waitpid") return { pid: 0, status: 0 } satisfies WaitResult;
  if (name === "socket") return 3;
  if (name === "send") return (args[1] as Uint8Array).byteLength;
  if (name === "recv") return Buffer.alloc(0);
  if (name === "ioctl") return 0;
  if (name === "clockGettime") return BigInt(Date.now()) * 1_000_000n;
  if (name === "adjtimex") return { state: 0, timex: args[0] };
  if (name === "getrlimit") return { soft: 1024, hard: 4096 };
  if (name === "execve") throw new FakeExec(args[0] as string, args[1] as string[], args[2] as string[]);
  return undefined;
}

/** A SysError for `code`, as libc would have thrown it. */
function fakeError(name: string, code: string, args: unknown[]): SysError {
  const errno = (constants.errno as Record<string, number>)[code];
  if (errno === undefined) throw new Error(`fake sys: unknown errno code ${code}`);
  return new SysError(name, errno, code, args.filter((a) => a !== undefined).map(String).join(", "));
}

/** A fake Sys; `pid` is what getpid returns (default 1). */
export function createFakeSys(opts: { pid?: number } = {}): FakeSys {
  const calls: SysCall[] = [];
  let failures: FailRule[] = [];
  const answers = new Map<SysCallName, Answer>();
  const pid = opts.pid ?? 1;

  // Records a call, then fails, answers or returns the default.
  const call = (name: SysCallName) => (...args: unknown[]) => {
    calls.push({ name, args });
    const given = args as never[];
    const rule = failures.find((r) => r.name === name && (r.predicate?.(...given) ?? true));
    if (rule) throw fakeError(name, rule.code, args);
    const answer = answers.get(name);
    return answer ? answer(...given) : defaultAnswer(name, args, pid);
  };

  const sys = {
    mount: call("mount"),
    umount2: call("umount2"),
    pivotRoot: call("pivotRoot"),
    chroot: call("chroot"),
    sethostname: call("sethostname"),
    reboot: call("reboot"),
    sync: call("sync"),
    finitModule: call("finitModule"),
    // Async like the real one: a failure rejects.
    kexecFileLoad: async (...args: unknown[]) => call("kexecFileLoad")(...args),
    prctl: call("prctl"),
    waitpid: call("waitpid"),
    kill: call("kill"),
    mknod: call("mknod"),
    mkdir: call("mkdir"),
    symlink: call("symlink"),
    unshare: call("unshare"),
    setns: call("setns"),
    execve: call("execve"),
    getpid: call("getpid"),
    socket: call("socket"),
    send: call("send"),
    recv: call("recv"),
    close: call("close"),
    ioctl: call("ioctl"),
    clockGettime: call("clockGettime"),
    clockSettime: call("clockSettime"),
    adjtimex: call("adjtimex"),
    getrlimit: call("getrlimit"),
    setrlimit: call("setrlimit"),
  } as Sys;

  return Object.assign(sys, {
    calls,
    failOn(name: SysCallName, predicate?: ArgsPredicate, code = "EPERM") {
      fakeError(name, code, []); // rejects unknown codes now, not at call time
      failures.push({ name, predicate, code });
    },
    respond(name: SysCallName, answer: Answer) {
      answers.set(name, answer);
    },
    clearFailures() {
      failures = [];
    },
    argsOf(name: SysCallName) {
      return calls.filter((c) => c.name === name).map((c) => c.args);
    },
  });
}
