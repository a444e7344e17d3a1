// The typed syscall boundary. Everything in kiln that needs a syscall Node
// lacks takes a `Sys` as a parameter: machined gets the libc one
// (src/sys/libc.ts, koffi), unit tests get the recording fake (src/sys/fake.ts).
// Every method throws SysError on failure.

/** mount(2) flags we use. */
export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  REMOUNT: 0x20,
  NOATIME: 0x400,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
} as const;

/** umount2(2) flags. */
export const MNT = { FORCE: 1, DETACH: 2, EXPIRE: 4 } as const;

/** reboot(2) commands. */
export const RB = {
  AUTOBOOT: 0x01234567,
  HALT_SYSTEM: 0xcdef0123,
  POWER_OFF: 0x4321fedc,
  KEXEC: 0x45584543,
  ENABLE_CAD: 0x89abcdef,
  DISABLE_CAD: 0,
} as const;

/** prctl(2) options. */
export const PR = { SET_CHILD_SUBREAPER: 36, SET_NAME: 15 } as const;

/** waitpid(2) options. */
export const WNOHANG = 1;

/** clone/unshare/setns namespace flags. */
export const CLONE = {
  NEWNS: 0x00020000,
  NEWCGROUP: 0x02000000,
  NEWUTS: 0x04000000,
  NEWIPC: 0x08000000,
  NEWUSER: 0x10000000,
  NEWPID: 0x20000000,
  NEWNET: 0x40000000,
} as const;

/** socket(2) address families, types and type flags we use. */
export const AF = { INET: 2, NETLINK: 16, INET6: 10 } as const;
export const SOCK = { DGRAM: 2, RAW: 3, CLOEXEC: 0o2000000 } as const;

/** clock_gettime(2)/clock_settime(2) clocks we use. */
export const CLOCK = { REALTIME: 0, MONOTONIC: 1 } as const;

/** adjtimex(2) `modes` bits. */
export const ADJ = {
  OFFSET: 0x0001,
  FREQUENCY: 0x0002,
  MAXERROR: 0x0004,
  ESTERROR: 0x0008,
  STATUS: 0x0010,
  TIMECONST: 0x0020,
  NANO: 0x2000,
} as const;

/** adjtimex(2) `status` bits. */
export const STA = { PLL: 0x0001, UNSYNC: 0x0040, NANO: 0x2000 } as const;

/** The struct timex fields kiln reads and writes (adjtimex(2)); `offset` is in ns with ADJ.NANO, else µs. */
export interface Timex {
  modes: number;
  offset: number;
  freq: number;
  maxerror: number;
  esterror: number;
  status: number;
  constant: number;
}

/** What adjtimex(2) returns: the clock state (TIME_OK 0 … TIME_ERROR 5) and the kernel's timex after the call. */
export interface AdjtimexResult {
  state: number;
  timex: Timex;
}

/** getrlimit(2)/setrlimit(2) resources we use (the same on x86_64 and arm64). */
export const RLIMIT = { NOFILE: 7 } as const;

/** A resource limit; Infinity is RLIM_INFINITY. */
export interface Rlimit {
  soft: number;
  hard: number;
}

/** mknod(2) file types. */
export const S_IFCHR = 0o020000;

/** A failed syscall: which call, on what, and errno. */
export class SysError extends Error {
  override name = "SysError";
  constructor(
    readonly call: string,
    readonly errno: number,
    readonly code: string,
    detail: string,
  ) {
    super(`${call}${detail ? `(${detail})` : ""}: ${code} (errno ${errno})`);
  }
}

/** Result of waitpid(2). `pid` is 0 when WNOHANG found nothing to reap. */
export interface WaitResult {
  pid: number;
  status: number;
}

export interface Sys {
  mount(source: string, target: string, fstype: string | null, flags: number, data?: string): void;
  umount2(target: string, flags: number): void;
  pivotRoot(newRoot: string, putOld: string): void;
  chroot(path: string): void;
  sethostname(name: string): void;
  reboot(cmd: number): void;
  sync(): void;
  /** Loads a kernel module from an open file descriptor. */
  finitModule(fd: number, params: string, flags: number): void;
  /**
   * kexec_file_load(2): stages a kernel and initramfs (open descriptors) for
   * reboot(RB.KEXEC). On a worker thread: the kernel reads and copies both
   * files, which takes seconds (tens under TCG) the event loop must not wait.
   */
  kexecFileLoad(kernelFd: number, initrdFd: number, cmdline: string, flags: number): Promise<void>;
  prctl(option: number, arg2: number): void;
  waitpid(pid: number, options: number): WaitResult;
  kill(pid: number, signal: number): void;
  mknod(path: string, mode: number, dev: number): void;
  /** mkdir(2): one level; EEXIST is an error like any other. */
  mkdir(path: string, mode: number): void;
  /** symlink(2): creates `path` pointing at `target`. */
  symlink(target: string, path: string): void;
  unshare(flags: number): void;
  setns(fd: number, nstype: number): void;
  /** Replaces the process image, keeping fds 0-2 (Node marks them close-on-exec); returns only by throwing. */
  execve(path: string, argv: string[], env: string[]): never;
  getpid(): number;
  /** socket(2): the new descriptor. */
  socket(domain: number, type: number, protocol: number): number;
  /** send(2): how many bytes went out. */
  send(fd: number, data: Uint8Array, flags: number): number;
  /** recv(2) of at most `size` bytes: what arrived (empty at end of stream). */
  recv(fd: number, size: number, flags: number): Buffer;
  close(fd: number): void;
  /** ioctl(2) with an integer argument (or none): the call's non-negative result. */
  ioctl(fd: number, request: number, arg: number): number;
  /** clock_gettime(2): the clock's time in nanoseconds. */
  clockGettime(clock: number): bigint;
  /** clock_settime(2): sets the clock to `ns` nanoseconds (CLOCK.REALTIME: since the epoch). */
  clockSettime(clock: number, ns: bigint): void;
  /** adjtimex(2): applies the fields `timex.modes` names (0: only reads). */
  adjtimex(timex: Timex): AdjtimexResult;
  /** prlimit(2) of this process (pid 0) or another: its limit of `resource`. */
  getrlimit(resource: number, pid?: number): Rlimit;
  /** prlimit(2): sets the limit of `resource` for this process (pid 0) or another; raising the hard limit needs CAP_SYS_RESOURCE. */
  setrlimit(resource: number, limit: Rlimit, pid?: number): void;
}

/** makedev(3) for mknod. */
export function makedev(major: number, minor: number): number {
  return ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12);
}
