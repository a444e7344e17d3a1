// What the image's generated loader (src/image/code-cache.ts writes it) did
// with a program's V8 code cache, recorded on the process for the program to
// report: accepted (compiled from the cache), rejected (V8 refused it: another
// node or other V8 flags; compiled from source), absent (no cache beside the
// bundle), or training: the builder is running the bundle to make its cache,
// and the program must only load (its modules' top levels compile and run,
// which puts them in the cache) and not start. Undefined when the program
// was not started by a loader (tests, development).

/** The symbol's key on `process`. */
export const codeCacheKey = "kiln.codeCache";

export type CodeCacheState = "accepted" | "rejected" | "absent" | "training";

/** What the loader recorded for this process, or undefined. */
export function codeCacheState(): CodeCacheState | undefined {
  return (process as unknown as Record<symbol, CodeCacheState | undefined>)[Symbol.for(codeCacheKey)];
}

/** Whether the builder is loading this program to make its code cache: the entry point must not start it. */
export function codeCacheTraining(): boolean {
  return codeCacheState() === "training";
}
