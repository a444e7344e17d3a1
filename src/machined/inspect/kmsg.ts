// Kernel log records as /dev/kmsg hands them out, one per read(2):
// `prio,seq,usec,flags[,…];message` then ` KEY=value` continuation lines.
// Parsing and the `dmesg -x` style line we print.

export interface KernelRecord {
  /** syslog facility name: kern, user, daemon… */
  facility: string;
  /** syslog level name: emerg … debug. */
  level: string;
  seq: number;
  /** Microseconds since boot (CLOCK_MONOTONIC). */
  usec: number;
  /** The message; non-printable bytes stay escaped as the kernel wrote them (\xNN). */
  message: string;
}

const LEVELS = ["emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"];
const FACILITIES = ["kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp"];

/** The syslog facility name of a prio value (local0…local7 above ftp). */
function facilityName(prio: number): string {
  const f = prio >> 3;
  if (f >= 16 && f <= 23) return `local${f - 16}`;
  return FACILITIES[f] ?? `facility${f}`;
}

/** One record's text, or an error naming what is wrong with it. */
export function parseKmsgRecord(text: string): { value: KernelRecord } | { error: string } {
  const semi = text.indexOf(";");
  if (semi < 0) return { error: `no ";" after the record header in ${JSON.stringify(text.slice(0, 40))}` };
  const [prio, seq, usec] = text.slice(0, semi).split(",").map(Number);
  if (![prio, seq, usec].every((n) => Number.isSafeInteger(n) && n! >= 0)) {
    return { error: `bad record header ${JSON.stringify(text.slice(0, semi))}` };
  }
  const message = text.slice(semi + 1).split("\n", 1)[0] ?? "";
  return { value: { facility: facilityName(prio!), level: LEVELS[prio! & 7]!, seq: seq!, usec: usec!, message } };
}

/** `kern  :info  : [   12.345678] message`, as `dmesg -x` prints it, without the newline. */
export function formatKernelRecord(r: KernelRecord): string {
  const secs = Math.floor(r.usec / 1e6);
  const micros = String(r.usec % 1e6).padStart(6, "0");
  return `${r.facility.padEnd(6)}:${r.level.padEnd(6)}: [${String(secs).padStart(5)}.${micros}] ${r.message}`;
}
