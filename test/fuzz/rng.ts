// The fuzz tier's randomness and budget: a tiny seeded PRNG (mulberry32), so
// a failure names the seed that reproduces it, and a time budget per file.
//   KILN_FUZZ_SEED  the seed (default: a fixed one); printed by every file
//   KILN_FUZZ_MS    the tier's whole budget in ms (default 60000)

/** The seed every run uses unless KILN_FUZZ_SEED says otherwise. */
export const defaultSeed = 0x6b696c6e;

/** The seed from KILN_FUZZ_SEED (decimal or 0x hex), else the default. */
export function fuzzSeed(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.KILN_FUZZ_SEED?.trim();
  if (!text) return defaultSeed;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`Expected KILN_FUZZ_SEED to be a non-negative integer, got \`${text}\``);
  return n >>> 0;
}

/** This file's share (0..1) of the tier's budget KILN_FUZZ_MS (default 60 s), in ms. */
export function fuzzBudgetMs(share: number, env: NodeJS.ProcessEnv = process.env): number {
  const text = env.KILN_FUZZ_MS?.trim();
  const total = text ? Number(text) : 60_000;
  if (!Number.isFinite(total) || total <= 0) throw new Error(`Expected KILN_FUZZ_MS to be a positive number of milliseconds, got \`${text}\``);
  return Math.round(total * share);
}

export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  bytes(n: number): Uint8Array;
  /** n characters: printable ASCII, with now and then a control character, a quote or a non-ASCII one. */
  text(n: number): string;
  /** A length skewed small: mostly under 16, sometimes up to `max`. */
  size(max: number): number;
}

/** mulberry32: 32 bits of state, good enough to fuzz with and the same on every machine. */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const odd = ["\0", "\n", "\t", '"', "'", ":", "#", "{", "[", "-", "\\", "é", "\u{1f525}", "\u202e", "\ufffd"];
  return {
    next,
    int,
    chance: (p) => next() < p,
    pick: (items) => items[int(items.length)]!,
    bytes: (n) => Uint8Array.from({ length: n }, () => int(256)),
    text: (n) => Array.from({ length: n }, () => (next() < 0.9 ? String.fromCharCode(32 + int(95)) : odd[int(odd.length)]!)).join(""),
    size: (max) => (next() < 0.8 ? int(16) : int(max + 1)),
  };
}

/** The line every fuzz file prints first, so a failure can be run again. */
export function reproduceLine(file: string, seed: number, budgetMs: number): string {
  return `fuzz ${file}: seed ${seed} (reproduce: KILN_FUZZ_SEED=${seed} npx tap test/fuzz/${file}), budget ${budgetMs} ms`;
}
