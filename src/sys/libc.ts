// The real Sys: libc through koffi. This is the only file that loads native
// code; the whole native surface kiln uses is declared in `declare()` below.
import { constants } from "node:os";
import koffi, { type LibraryHandle } from "koffi";
import { type AdjtimexResult, type Rlimit, type Sys, SysError, type Timex, type WaitResult } from "./sys.js";

type Fn = (...args: unknown[]) => number;
/** A function koffi can also call on a worker thread: `fn.async(...args, (err, result) => …)`. */
type AsyncFn = Fn & { async: (...args: unknown[]) => void };

/** Syscalls glibc has no wrapper for, by architecture. */
const SYSCALL_NUMBERS: Record<string, SyscallNumbers> = {
  x64: { finitModule: 313, kexecFileLoad: 320 },
  arm64: { finitModule: 273, kexecFileLoad: 294 },
};

interface SyscallNumbers {
  finitModule: number;
  kexecFileLoad: number;
}

/** errno number → its name ("ENOENT"); the first name wins for aliases. */
const ERRNO_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!ERRNO_NAMES.has(value)) ERRNO_NAMES.set(value, name);
}

/** The errno name for a number, e.g. 2 → "ENOENT". */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

/** struct rlimit: two rlim_t (unsigned 64-bit on x86_64 and arm64). */
function declareRlimit(): void {
  koffi.struct("kiln_rlimit", { rlim_cur: "uint64_t", rlim_max: "uint64_t" });
}

/** struct timespec and struct timex (x86_64 and arm64 glibc layout: 208 bytes, natural alignment). */
function declareStructs(): void {
  koffi.struct("kiln_timespec", { tv_sec: "int64_t", tv_nsec: "long" });
  koffi.struct("kiln_timex", {
    ...{ modes: "unsigned int", offset: "long", freq: "long", maxerror: "long", esterror: "long", status: "int" },
    ...{ constant: "long", precision: "long", tolerance: "long", time_sec: "long", time_usec: "long", tick: "long" },
    ...{ ppsfreq: "long", jitter: "long", shift: "int", stabil: "long", jitcnt: "long", calcnt: "long" },
    ...{ errcnt: "long", stbcnt: "long", tai: "int", reserved: koffi.array("int", 11) },
  });
}

/** Declares every libc function kiln calls. */
function declare(lib: LibraryHandle) {
  const f = (proto: string) => lib.func(proto) as unknown as Fn;
  declareStructs();
  declareRlimit();
  return {
    mount: f("int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)"),
    umount2: f("int umount2(const char *target, int flags)"),
    pivot_root: f("int pivot_root(const char *new_root, const char *put_old)"),
    chroot: f("int chroot(const char *path)"),
    sethostname: f("int sethostname(const char *name, size_t len)"),
    reboot: f("int reboot(int cmd)"),
    sync: f("void sync(void)"),
    prctl: f("int prctl(int option, ...)"),
    waitpid: f("int waitpid(int pid, _Out_ int *status, int options)"),
    kill: f("int kill(int pid, int sig)"),
    mknod: f("int mknod(const char *path, uint32_t mode, uint64_t dev)"),
    mkdir: f("int mkdir(const char *path, uint32_t mode)"),
    symlink: f("int symlink(const char *target, const char *path)"),
    unshare: f("int unshare(int flags)"),
    setns: f("int setns(int fd, int nstype)"),
    execve: f("int execve(const char *path, const char **argv, const char **envp)"),
    getpid: f("int getpid(void)"),
    fcntl: f("int fcntl(int fd, int cmd, ...)"),
    syscall: f("long syscall(long number, ...)"),
    // The same syscall(3) with kexec_file_load's arguments spelled out: koffi
    // runs only fixed-argument functions on a worker thread. On Linux x86-64
    // and arm64 fixed and variadic integer arguments travel alike.
    kexec_file_load: f("long syscall(long number, int kernel_fd, int initrd_fd, unsigned long cmdline_len, const char *cmdline, unsigned long flags)") as AsyncFn,
    socket: f("int socket(int domain, int type, int protocol)"),
    send: f("long send(int fd, const void *buf, size_t len, int flags)"),
    recv: f("long recv(int fd, _Out_ void *buf, size_t len, int flags)"),
    close: f("int close(int fd)"),
    ioctl: f("int ioctl(int fd, unsigned long request, ...)"),
    clock_gettime: f("int clock_gettime(int clock, _Out_ kiln_timespec *ts)"),
    clock_settime: f("int clock_settime(int clock, const kiln_timespec *ts)"),
    adjtimex: f("int adjtimex(_Inout_ kiln_timex *tx)"),
    prlimit: f("int prlimit(int pid, int resource, const kiln_rlimit *new_limit, _Out_ kiln_rlimit *old_limit)"),
  };
}

type Natives = ReturnType<typeof declare>;
let natives: Natives | undefined;

/** Loads libc once per process. */
function libc(): Natives {
  natives ??= declare(koffi.load("libc.so.6"));
  return natives;
}

/** Throws SysError with the current errno when `ret` is -1. */
function check(ret: number, call: string, detail: string): number {
  if (ret !== -1) return ret;
  const errno = koffi.errno();
  throw new SysError(call, errno, errnoName(errno), detail);
}

/** argv/envp as a NULL-terminated char** for koffi. */
function cStrings(list: string[]): (string | null)[] {
  return [...list, null];
}

const F_SETFD = 2;

/**
 * Node marks every inherited fd close-on-exec at startup, stdio included
 * (uv_disable_stdio_inheritance); clears that on 0, 1 and 2 so the new image
 * keeps its stdin, stdout and stderr. A closed one is left closed.
 */
function inheritStdio(c: Natives): void {
  for (const fd of [0, 1, 2]) c.fcntl(fd, F_SETFD, "int", 0);
}

/** The syscall numbers for this machine's architecture. */
function syscallNumbers(): SyscallNumbers {
  const numbers = SYSCALL_NUMBERS[process.arch];
  if (!numbers) throw new Error(`no syscall numbers for architecture ${process.arch}`);
  return numbers;
}

const NS_PER_S = 1_000_000_000n;

/** The Timex fields of a kernel struct timex. */
function timexOf(tx: Record<string, number>): Timex {
  const { modes = 0, offset = 0, freq = 0, maxerror = 0, esterror = 0, status = 0, constant = 0 } = tx;
  return { modes, offset, freq, maxerror, esterror, status, constant };
}

/** adjtimex(2) through koffi: the struct goes in and comes back filled. */
function adjtimex(c: Natives, timex: Timex): AdjtimexResult {
  const tx: Record<string, unknown> = { ...timex };
  const state = check(c.adjtimex(tx), "adjtimex", `modes 0x${timex.modes.toString(16)}`);
  return { state, timex: timexOf(tx as Record<string, number>) };
}

const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

/** An rlim_t as koffi hands it back (a number, or a bigint past 2^53) → a number, RLIM_INFINITY as Infinity. */
function fromRlim(v: number | bigint): number {
  return BigInt(v) === RLIM_INFINITY ? Number.POSITIVE_INFINITY : Number(v);
}

/** A number → an rlim_t for koffi; Infinity as RLIM_INFINITY. */
function toRlim(v: number): bigint {
  return v === Number.POSITIVE_INFINITY ? RLIM_INFINITY : BigInt(v);
}

/** prlimit(2) reading `resource` of `pid` (0: us). */
function getrlimit(c: Natives, resource: number, pid: number): Rlimit {
  const old = { rlim_cur: 0n as number | bigint, rlim_max: 0n as number | bigint };
  check(c.prlimit(pid, resource, null, old), "prlimit", `pid ${pid}, resource ${resource}`);
  return { soft: fromRlim(old.rlim_cur), hard: fromRlim(old.rlim_max) };
}

/** prlimit(2) setting `resource` of `pid` (0: us). */
function setrlimit(c: Natives, resource: number, limit: Rlimit, pid: number): void {
  const lim = { rlim_cur: toRlim(limit.soft), rlim_max: toRlim(limit.hard) };
  check(c.prlimit(pid, resource, lim, null), "prlimit", `pid ${pid}, resource ${resource}, ${limit.soft}:${limit.hard}`);
}

/** A Sys over the real kernel. */
export function createLibcSys(): Sys {
  const c = libc();
  return {
    mount(source, target, fstype, flags, data) {
      const detail = `${source} on ${target}${fstype ? ` type ${fstype}` : ""}${data ? ` (${data})` : ""}`;
      check(c.mount(source, target, fstype, flags, data ?? null), "mount", detail);
    },
    umount2: (target, flags) => void check(c.umount2(target, flags), "umount2", target),
    pivotRoot: (newRoot, putOld) => void check(c.pivot_root(newRoot, putOld), "pivot_root", `${newRoot}, ${putOld}`),
    chroot: (path) => void check(c.chroot(path), "chroot", path),
    sethostname: (name) => void check(c.sethostname(name, Buffer.byteLength(name)), "sethostname", name),
    // RB values above 2^31 are passed as the int the kernel reads them as.
    reboot: (cmd) => void check(c.reboot(cmd | 0), "reboot", `0x${(cmd >>> 0).toString(16)}`),
    sync: () => void c.sync(),
    finitModule(fd, params, flags) {
      const nr = syscallNumbers().finitModule;
      check(c.syscall(nr, "int", fd, "const char *", params, "int", flags), "finit_module", `fd ${fd}`);
    },
    kexecFileLoad(kernelFd, initrdFd, cmdline, flags) {
      const nr = syscallNumbers().kexecFileLoad;
      // cmdline_len counts the terminating NUL, which koffi appends to the string.
      const args = [nr, kernelFd, initrdFd, Buffer.byteLength(cmdline) + 1, cmdline, flags];
      // koffi hands the call's errno back with its result, so check() reads the worker's.
      return new Promise((resolve, reject) =>
        c.kexec_file_load.async(...args, (err: unknown, ret: number) => {
          if (err) return reject(err);
          try {
            check(ret, "kexec_file_load", `fds ${kernelFd}, ${initrdFd}`);
            resolve();
          } catch (e) {
            reject(e);
          }
        }),
      );
    },
    prctl(option, arg2) {
      const rest = ["unsigned long", arg2, "unsigned long", 0, "unsigned long", 0, "unsigned long", 0];
      check(c.prctl(option, ...rest), "prctl", `${option}, ${arg2}`);
    },
    waitpid(pid, options): WaitResult {
      const status = [0];
      const got = check(c.waitpid(pid, status, options), "waitpid", String(pid));
      return { pid: got, status: status[0] ?? 0 };
    },
    kill: (pid, signal) => void check(c.kill(pid, signal), "kill", `${pid}, ${signal}`),
    mknod: (path, mode, dev) => void check(c.mknod(path, mode, dev), "mknod", path),
    mkdir: (path, mode) => void check(c.mkdir(path, mode), "mkdir", path),
    symlink: (target, path) => void check(c.symlink(target, path), "symlink", `${path} -> ${target}`),
    unshare: (flags) => void check(c.unshare(flags), "unshare", `0x${flags.toString(16)}`),
    setns: (fd, nstype) => void check(c.setns(fd, nstype), "setns", `fd ${fd}`),
    execve(path, argv, env): never {
      inheritStdio(c);
      check(c.execve(path, cStrings(argv), cStrings(env)), "execve", path);
      throw new Error(`execve(${path}) returned without an error`);
    },
    getpid: () => c.getpid(),
    socket: (domain, type, protocol) => check(c.socket(domain, type, protocol), "socket", `${domain}, ${type}, ${protocol}`),
    send: (fd, data, flags) => check(c.send(fd, data, data.byteLength, flags), "send", `fd ${fd}`),
    recv(fd, size, flags) {
      const buf = Buffer.alloc(size);
      return buf.subarray(0, check(c.recv(fd, buf, size, flags), "recv", `fd ${fd}`));
    },
    close: (fd) => void check(c.close(fd), "close", `fd ${fd}`),
    ioctl: (fd, request, arg) => check(c.ioctl(fd, request, "unsigned long", arg), "ioctl", `fd ${fd}, 0x${request.toString(16)}`),
    clockGettime(clock) {
      const ts = { tv_sec: 0n, tv_nsec: 0 };
      check(c.clock_gettime(clock, ts), "clock_gettime", `clock ${clock}`);
      return BigInt(ts.tv_sec) * NS_PER_S + BigInt(ts.tv_nsec);
    },
    clockSettime(clock, ns) {
      const ts = { tv_sec: ns / NS_PER_S, tv_nsec: Number(ns % NS_PER_S) };
      check(c.clock_settime(clock, ts), "clock_settime", `clock ${clock}, ${ns} ns`);
    },
    adjtimex: (timex) => adjtimex(c, timex),
    getrlimit: (resource, pid = 0) => getrlimit(c, resource, pid),
    setrlimit: (resource, limit, pid = 0) => setrlimit(c, resource, limit, pid),
  };
}
