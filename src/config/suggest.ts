// "Did you mean …?": the known word nearest to a misspelt one.

/** Lowercase without separators, so certSans, cert_sans and CERTSANS meet. */
function fold(word: string): string {
  return word.toLowerCase().replace(/[-_.]/g, "");
}

/** Edit distance (insert, delete, substitute, swap neighbours) between two words. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate `word` was probably meant to be, or undefined when none is close. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const folded = candidates.find((c) => fold(c) === fold(word));
  if (folded) return folded;
  const limit = word.length <= 4 ? 1 : 2;
  let best: { word: string; distance: number } | undefined;
  for (const c of candidates) {
    const distance = editDistance(fold(word), fold(c));
    if (distance <= limit && (!best || distance < best.distance)) best = { word: c, distance };
  }
  return best?.word;
}
