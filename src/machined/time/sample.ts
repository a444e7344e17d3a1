// One measurement of a server's clock (RFC 4330 §5): the checks a reply must
// pass, the offset and round-trip delay from its four timestamps, and which
// of several samples to believe.
import { LEAP_ALARM, MODE, type NtpReply } from "./ntp-packet.js";

/** A good reply turned into a measurement; ms throughout. */
export interface Sample {
  /** The server as configured (name or address) and the address answered. */
  server: string;
  address: string;
  /** How far the server's clock is ahead of ours: add it to ours to be right. */
  offsetMs: number;
  /** Round trip, less the server's own processing time. */
  delayMs: number;
  stratum: number;
  /** Worst-case error to the server's reference: delay/2 + root delay/2 + root dispersion. */
  rootDistanceMs: number;
}

/** Replies whose root distance exceeds this are too far from a good clock to use (NTP's MAXDIST). */
export const MAX_ROOT_DISTANCE_MS = 1500;

/** T1 (request sent) and T4 (reply received), by our clock, ms since the epoch. */
export interface Stamps {
  sentMs: number;
  receivedMs: number;
}

/** offset = ((T2 - T1) + (T3 - T4)) / 2; delay = (T4 - T1) - (T3 - T2). */
export function offsetAndDelay(t1: number, t2: number, t3: number, t4: number): { offsetMs: number; delayMs: number } {
  return { offsetMs: (t2 - t1 + (t3 - t4)) / 2, delayMs: t4 - t1 - (t3 - t2) };
}

/** Checks a reply against our request and measures it; an error value says why it is refused. */
export function sampleOf(server: string, address: string, nonce: Uint8Array, r: NtpReply, s: Stamps): { value: Sample } | { error: string } {
  if (r.mode !== MODE.SERVER) return { error: `mode ${r.mode} in the reply, expected ${MODE.SERVER} (server)` };
  if (!r.origin.equals(Buffer.from(nonce))) return { error: "the reply's origin timestamp is not our request's: a stray or spoofed packet" };
  if (r.stratum === 0) return { error: `kiss-o'-death "${r.kiss}"` };
  if (r.stratum > 15) return { error: `stratum ${r.stratum}: the server is not synchronized` };
  if (r.leap === LEAP_ALARM) return { error: "leap indicator 3: the server's clock is not synchronized" };
  if (r.transmitZero) return { error: "the reply's transmit timestamp is zero" };
  const { offsetMs, delayMs: measured } = offsetAndDelay(s.sentMs, r.receiveMs, r.transmitMs, s.receivedMs);
  // A round trip of next to nothing (a local server) can come out a hair below 0: NTP's 2^-32 s fractions and the clock reads round. No delay is negative.
  const delayMs = Math.max(measured, 0);
  const rootDistanceMs = delayMs / 2 + r.rootDelayMs / 2 + r.rootDispersionMs;
  if (rootDistanceMs > MAX_ROOT_DISTANCE_MS) return { error: `root distance ${rootDistanceMs.toFixed(0)} ms exceeds ${MAX_ROOT_DISTANCE_MS} ms` };
  return { value: { server, address, offsetMs, delayMs, stratum: r.stratum, rootDistanceMs } };
}

/** The sample to believe: the smallest root distance, then the lowest stratum. */
export function bestSample(samples: Sample[]): Sample | undefined {
  return [...samples].sort((a, b) => a.rootDistanceMs - b.rootDistanceMs || a.stratum - b.stratum)[0];
}
