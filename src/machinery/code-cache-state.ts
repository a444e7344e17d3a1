// What the image's generated loader (src/image/code-cache.ts writes it) did
// with a program's V8 code cache, recorded on the process for the program to
// report: accepted (compiled from the cache), rejected (V8 refused it: another
// node or other V8 flags; compiled from source), absent (no cache beside the
// bundle). Undefined when the program was not started by a loader (tests,
// development).

/** The symbol's key on `process`. */
export const codeCacheKey = "kiln.codeCache";

export type CodeCacheState = "accepted" | "rejected" | "absent";

/** What the loader recorded for this process, or undefined. */
export function codeCacheState(): CodeCacheState | undefined {
  return (process as unknown as Record<symbol, CodeCacheState | undefined>)[Symbol.for(codeCacheKey)];
}
