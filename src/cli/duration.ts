// Durations on the command line ("30s", "1m30s", "500ms"; a bare number is
// seconds) and ages in tables ("3m12s").
import { usageError } from "./errors.js";

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds in a duration such as "1m30s"; undefined if it is not one. */
export function durationMs(text: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) return undefined;
  return Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0));
}

/** A flag's duration in milliseconds, or a usage error naming the flag. */
export function parseDurationFlag(flag: string, text: string): number {
  const ms = durationMs(text);
  if (ms === undefined) throw usageError(flag, `expected a duration such as 30s, 500ms or 1m30s, got "${text}"`);
  return ms;
}

/** A duration in its largest two units, e.g. "1m30s", "2h5m", "3d4h", "800ms". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.floor(ms / 1000);
  const steps: [number, string][] = [[86400, "d"], [3600, "h"], [60, "m"], [1, "s"]];
  const i = steps.findIndex(([n]) => s >= n);
  const [big, bigUnit] = steps[i]!;
  const next = steps[i + 1];
  const rest = next ? Math.floor((s % big) / next[0]) : 0;
  return `${Math.floor(s / big)}${bigUnit}${next && rest > 0 ? `${rest}${next[1]}` : ""}`;
}
