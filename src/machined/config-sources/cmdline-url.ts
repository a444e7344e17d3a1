// Source "cmdline-url": `kiln.config=<http(s) URL>` on the kernel command
// line. The network may still be coming up, so failures are retried with
// exponential backoff until a time budget runs out; each failure says why.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describeFetchError } from "./fetch-error.js";
import { cmdlineValue } from "./kernel-cmdline.js";
import { type Clock, type ConfigSource, found, none, realClock, reason, type SourceResult, unlessAborted } from "./source.js";

export interface CmdlineUrlOptions {
  /** Where /proc is. */
  proc: string;
  fetch?: typeof globalThis.fetch;
  clock?: Clock;
  /** Called once before the first try: resolves true when the network is up, false after `ms`. */
  waitOnline?: (ms: number) => Promise<boolean>;
  /** Give up after this long, waiting for the network included (default 3 min). */
  budgetMs?: number;
  /** Pause after the first failure, doubled after each (default 1 s)… */
  firstDelayMs?: number;
  /** …up to this (default 10 s). */
  maxDelayMs?: number;
  /** One try's limit (default 30 s). */
  tryTimeoutMs?: number;
}

/** The source; it reads the command line each time it is asked. */
export function cmdlineUrlSource(opts: CmdlineUrlOptions): ConfigSource {
  return {
    name: "cmdline-url",
    fetch: async (note, signal) => {
      const path = join(opts.proc, "cmdline");
      const value = cmdlineValue(await readFile(path, "utf8").catch(() => ""), "kiln.config");
      if (value === undefined || value === "") return none("no kiln.config= on the kernel command line");
      if (value === "none") return none("kiln.config=none on the kernel command line");
      const url = URL.canParse(value) ? new URL(value) : undefined;
      if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) return none(`kiln.config=${value} is not an http(s) URL; skipped`);
      return fetchWithRetry(url, opts, note, signal);
    },
  };
}

/** Fetches `url` until it answers 2xx or the budget is spent. */
async function fetchWithRetry(url: URL, opts: CmdlineUrlOptions, note: (m: string) => void, signal?: AbortSignal): Promise<SourceResult> {
  const clock = opts.clock ?? realClock;
  const budget = opts.budgetMs ?? 180_000;
  const start = clock.now();
  const deadline = start + budget;
  const shown = redact(url);
  if (opts.waitOnline) {
    note(`waiting for the network before fetching ${shown}`);
    if (!(await unlessAborted(opts.waitOnline(budget), signal))) note(`the network is not up after ${secs(clock.now() - start)}; trying anyway`);
  }
  let delay = opts.firstDelayMs ?? 1000;
  for (let n = 1; ; n++) {
    const r = await fetchOnce(url, opts, Math.max(1000, Math.min(opts.tryTimeoutMs ?? 30_000, deadline - clock.now())), signal);
    signal?.throwIfAborted();
    if (r.t === "found") return r;
    const left = deadline - clock.now();
    if (left <= 0) return none(`gave up on ${shown} after ${n} tr${n === 1 ? "y" : "ies"} in ${secs(clock.now() - start)}: ${r.why}`);
    const pause = Math.min(delay, left);
    note(`${shown}: try ${n} failed: ${r.why}; again in ${secs(pause)}`);
    await unlessAborted(clock.sleep(pause), signal);
    delay = Math.min(delay * 2, opts.maxDelayMs ?? 10_000);
  }
}

/** One GET: the body on 2xx, else why not. */
async function fetchOnce(url: URL, opts: CmdlineUrlOptions, timeoutMs: number, cancel?: AbortSignal): Promise<SourceResult> {
  try {
    const signal = cancel ? AbortSignal.any([AbortSignal.timeout(timeoutMs), cancel]) : AbortSignal.timeout(timeoutMs);
    const res = await (opts.fetch ?? fetch)(url, { signal, redirect: "follow" });
    if (!res.ok) {
      await res.body?.cancel();
      return none(`HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`);
    }
    return found(await res.text(), redact(url));
  } catch (err) {
    return none(describeFetchError(err, url) || reason(err));
  }
}

/** The URL without user:password, fit for the console. */
function redact(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const copy = new URL(url);
  copy.username = "";
  copy.password = "";
  return copy.href;
}

/** e.g. "250ms", "1.5s". */
function secs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${Math.round(ms / 100) / 10}s`;
}
