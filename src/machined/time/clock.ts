// Correcting this machine's clock by a measured offset: step it (clock_settime)
// when it is far off, else slew it through the kernel's PLL (adjtimex
// ADJ_OFFSET), which also clears STA_UNSYNC so the kernel keeps the RTC in
// step every 11 minutes.
import { ADJ, CLOCK, STA, type Sys } from "../../sys/sys.js";

/**
 * Offsets from which the clock is stepped instead of slewed. Until the first
 * correction of a boot: 0.5 s, the most the kernel's PLL takes (MAXPHASE), so
 * a machine that booted with a wrong RTC is right at once. Afterwards only
 * beyond 5 s (a paused VM, a resume): time should not jump under running
 * workloads, and the PLL brings anything smaller back, 0.5 s at a time.
 */
export const STEP_THRESHOLD_MS = { untilCorrected: 500, afterwards: 5_000 } as const;

/** The most one ADJ_OFFSET hands the PLL (the kernel clamps to it too). */
const MAX_SLEW_MS = 500;

export type Correction = "step" | "slew";

/** Step or slew for `offsetMs`, given whether this boot has corrected the clock yet. */
export function correctionFor(offsetMs: number, corrected: boolean): Correction {
  const threshold = corrected ? STEP_THRESHOLD_MS.afterwards : STEP_THRESHOLD_MS.untilCorrected;
  return Math.abs(offsetMs) >= threshold ? "step" : "slew";
}

/** What the PLL is told with each slew: the poll interval, and the error bounds of the sample. */
export interface SlewContext {
  pollMs: number;
  /** Root distance of the sample (maximum error), and half its delay (estimated error). */
  maxErrorMs: number;
  estErrorMs: number;
}

/** Sets CLOCK_REALTIME forward (or back) by `offsetMs`, then tells the PLL the clock is synchronized. */
export function stepClock(sys: Sys, offsetMs: number, ctx: SlewContext): void {
  const now = sys.clockGettime(CLOCK.REALTIME);
  sys.clockSettime(CLOCK.REALTIME, now + BigInt(Math.round(offsetMs * 1e6)));
  slewClock(sys, 0, ctx);
}

/** Hands `offsetMs` (clamped to ±0.5 s) to the kernel's PLL, which slews it out gradually. */
export function slewClock(sys: Sys, offsetMs: number, ctx: SlewContext): void {
  const clamped = Math.max(-MAX_SLEW_MS, Math.min(MAX_SLEW_MS, offsetMs));
  sys.adjtimex({
    modes: ADJ.OFFSET | ADJ.STATUS | ADJ.NANO | ADJ.TIMECONST | ADJ.MAXERROR | ADJ.ESTERROR,
    offset: Math.round(clamped * 1e6),
    freq: 0,
    maxerror: Math.round(ctx.maxErrorMs * 1000),
    esterror: Math.round(ctx.estErrorMs * 1000),
    status: STA.PLL,
    constant: timeConstant(ctx.pollMs),
  });
}

/** The PLL time constant for a poll interval: log2(seconds) - 4, as ntpd and timesyncd set it (64 s → 2). */
export function timeConstant(pollMs: number): number {
  return Math.max(0, Math.round(Math.log2(pollMs / 1000)) - 4);
}
