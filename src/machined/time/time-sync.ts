// machined's time synchronisation for machine.time.servers: a round asks every
// server (in parallel, each bounded by a timeout; until the boot's first
// correction, BURST times in a row), believes the best sample, steps or slews
// the clock by it, and schedules the next round (poll.ts). No servers:
// disabled. New servers: a fresh start at once.
import { CLOCK, type Sys } from "../../sys/sys.js";
import { correctionFor, type Correction, slewClock, stepClock } from "./clock.js";
import { afterFailure, afterSuccess, initialPoll, nextDelayMs, POLL, type PollState } from "./poll.js";
import { bestSample, type Sample } from "./sample.js";
import { type QueryResult, querySntp } from "./sntp-query.js";

/** How long one server has to resolve and answer. */
export const QUERY_TIMEOUT_MS = 3_000;
/** At most this many servers are asked in a round (the first ones listed). */
export const MAX_SERVERS = 8;
/**
 * Until the clock is first corrected, each server is asked this many times in a
 * row and its least-delayed answer kept: the step must be right, and the first
 * exchanges of a boot are slow (ARP, a busy event loop).
 */
export const BURST = 4;
/** Without a good round for this long, the clock counts as unsynchronized again. */
export const STALE_AFTER_MS = 2 * POLL.maxMs;

export type TimeSyncState = "disabled" | "unsynchronized" | "synchronized";

/** What `kilnctl time` shows. */
export interface TimeSyncStatus {
  state: TimeSyncState;
  /** The servers in use (machine.time.servers). */
  servers: string[];
  /** The last good sample: its server as configured, that server's address. */
  server: string;
  address: string;
  /** The server's clock minus ours when measured (before the correction), and the round trip; ms. */
  offsetMs?: number;
  delayMs?: number;
  stratum?: number;
  /** When the last good sample was taken (this machine's corrected clock). */
  lastSync?: Date;
  /** How the clock was corrected by it: stepped, slewed, or not at all ("none": observing only). */
  correction: Correction | "none" | "";
  /** The interval between rounds now. */
  pollMs: number;
  /** Why the last round failed ("" after a good one). */
  lastError: string;
}

export interface TimeSyncDeps {
  sys: Sys;
  log(line: string): void;
  /** Correct the clock (metal). False where the clock is the host's (the sandbox): measure and report only. */
  adjust: boolean;
  /** Called after each step of the clock, with the step in ms: certificates issued before it may be wrong. */
  onStep?: (offsetMs: number) => void;
  /** Asks one server (default: SNTP over UDP port 123, with QUERY_TIMEOUT_MS). */
  query?: (server: string) => Promise<QueryResult>;
  /** A monotonic clock in ms (default: performance.now). */
  monotonicMs?: () => number;
  /** Runs `fn` after `ms`, returning a cancel (default: an unref'd setTimeout). */
  setTimer?: (fn: () => void, ms: number) => () => void;
}

export interface TimeSync {
  /** Uses these servers from now on (machine.time.servers); [] disables. The same list again changes nothing. */
  apply(servers: readonly string[]): void;
  status(): TimeSyncStatus;
  /** Cancels the next round; a round under way finishes unheard. */
  stop(): void;
}

/** Mutable state of the loop; one `generation` per server list, so late rounds of an old list are ignored. */
interface Loop {
  servers: string[];
  generation: number;
  /** Cancels the scheduled round. */
  cancel: () => void;
  poll: PollState;
  last?: { sample: Sample; at: Date; atMono: number; correction: TimeSyncStatus["correction"] };
  lastError: string;
  /** Whether this boot has corrected the clock yet (the step threshold drops after). */
  corrected: boolean;
}

/** A time sync that does nothing until `apply` gives it servers. */
export function createTimeSync(d: TimeSyncDeps): TimeSync {
  const now = () => Number(d.sys.clockGettime(CLOCK.REALTIME)) / 1e6;
  const query = d.query ?? ((server: string) => querySntp(server, { now, timeoutMs: QUERY_TIMEOUT_MS }));
  const mono = d.monotonicMs ?? (() => performance.now());
  const setTimer = d.setTimer ?? unrefTimer;
  const loop: Loop = { servers: [], generation: 0, cancel: () => {}, poll: initialPoll(), lastError: "", corrected: false };

  // Runs one round for `generation` and schedules the next.
  const round = async (generation: number) => {
    const times = loop.corrected ? 1 : BURST;
    const results = await Promise.all(loop.servers.slice(0, MAX_SERVERS).map((s) => askServer(query, s, times)));
    if (generation !== loop.generation) return;
    const best = bestSample(results.flatMap((r) => ("value" in r ? [r.value] : [])));
    const failed = best ? correct(d, loop, best, { now: now(), mono: mono() }) : results.map((r) => ("error" in r ? r.error : "")).join("; ");
    if (failed) {
      loop.poll = afterFailure(loop.poll);
      loop.lastError = failed;
      d.log(`time: ${failed}; asking again in ${nextDelayMs(loop.poll) / 1000} s`);
    } else {
      loop.poll = afterSuccess(loop.poll, best?.offsetMs ?? 0);
      loop.lastError = "";
    }
    schedule(generation, nextDelayMs(loop.poll));
  };
  const schedule = (generation: number, ms: number) => {
    loop.cancel();
    loop.cancel = setTimer(() => void round(generation).catch((err: Error) => d.log(`time: round failed: ${err.message}`)), ms);
  };

  return {
    apply(servers) {
      if (sameList(servers, loop.servers)) return;
      loop.cancel();
      Object.assign(loop, { servers: [...servers], generation: loop.generation + 1, poll: initialPoll(), last: undefined, lastError: "" });
      d.log(servers.length ? `time: synchronizing with ${servers.join(", ")}` : "time: no machine.time.servers: time sync disabled");
      if (servers.length) schedule(loop.generation, 0);
    },
    status: () => statusOf(loop, mono()),
    stop() {
      loop.cancel();
      loop.generation++;
    },
  };
}

/** Asks `server` up to `times` times in a row: the best of its answers, or the error that stopped it. */
async function askServer(query: (server: string) => Promise<QueryResult>, server: string, times: number): Promise<QueryResult> {
  const samples: Sample[] = [];
  for (let i = 0; i < times; i++) {
    const r = await query(server);
    if ("error" in r) return samples.length ? { value: bestSample(samples)! } : r;
    samples.push(r.value);
  }
  return { value: bestSample(samples)! };
}

/** Corrects the clock by a good sample and records it; an error message when the kernel refused. */
function correct(d: TimeSyncDeps, loop: Loop, s: Sample, at: { now: number; mono: number }): string {
  const correction = d.adjust ? correctionFor(s.offsetMs, loop.corrected) : "none";
  const ctx = { pollMs: loop.poll.intervalMs, maxErrorMs: s.rootDistanceMs, estErrorMs: s.delayMs / 2 };
  try {
    if (correction === "step") stepClock(d.sys, s.offsetMs, ctx);
    if (correction === "slew") slewClock(d.sys, s.offsetMs, ctx);
  } catch (err) {
    return `${correction === "step" ? "stepping" : "slewing"} the clock by ${formatMs(s.offsetMs)}: ${(err as Error).message}`;
  }
  const first = !loop.last;
  if (correction !== "none") loop.corrected = true;
  const stepMs = correction === "step" ? s.offsetMs : 0;
  loop.last = { sample: s, at: new Date(at.now + stepMs), atMono: at.mono, correction };
  // Steps and the first sample always; slews only when they are large, as a poll can be every minute.
  if (first || correction === "step" || Math.abs(s.offsetMs) > POLL.stableMs) d.log(`time: ${describe(correction)} ${formatMs(s.offsetMs)} (${s.server}, delay ${s.delayMs.toFixed(1)} ms, stratum ${s.stratum})`);
  if (correction === "step") d.onStep?.(s.offsetMs);
  return "";
}

/** The log's verb for a correction. */
function describe(c: TimeSyncStatus["correction"]): string {
  return c === "step" ? "stepped the clock by" : c === "slew" ? "slewing the clock by" : "not adjusting the clock (observing only), offset";
}

/** The status as the API reports it. */
function statusOf(loop: Loop, monoNow: number): TimeSyncStatus {
  const last = loop.last;
  const fresh = last !== undefined && monoNow - last.atMono < STALE_AFTER_MS;
  const state: TimeSyncState = loop.servers.length === 0 ? "disabled" : fresh ? "synchronized" : "unsynchronized";
  const status: TimeSyncStatus = { state, servers: [...loop.servers], server: "", address: "", correction: "", pollMs: nextDelayMs(loop.poll), lastError: loop.lastError };
  if (!last) return status;
  const s = last.sample;
  return { ...status, server: s.server, address: s.address, offsetMs: s.offsetMs, delayMs: s.delayMs, stratum: s.stratum, lastSync: last.at, correction: last.correction };
}

/** setTimeout that does not keep the process alive. */
function unrefTimer(fn: () => void, ms: number): () => void {
  const timer = setTimeout(fn, ms);
  timer.unref();
  return () => clearTimeout(timer);
}

/** Whether two server lists are the same, in order. */
function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** An offset for people: "+3.2 ms", "-31536000.1 s". */
export function formatMs(ms: number): string {
  const sign = ms < 0 ? "-" : "+";
  const abs = Math.abs(ms);
  return abs < 1000 ? `${sign}${abs.toFixed(3)} ms` : `${sign}${(abs / 1000).toFixed(3)} s`;
}
