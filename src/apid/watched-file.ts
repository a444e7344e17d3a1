// A file machined rewrites for apid while it runs (the deny list, the peers):
// looked at on every use (one stat), read and parsed again only when it changed.
import { readFileSync, statSync } from "node:fs";

/** The current parse of `file`; `parse` gets undefined while the file is missing. */
export function watchedFile<T>(file: string, parse: (text: string | undefined) => T): () => T {
  let seen: string | undefined;
  let value: T;
  return () => {
    const st = statSync(file, { throwIfNoEntry: false });
    const stamp = st ? `${st.ino}:${st.size}:${st.mtimeMs}` : "";
    if (stamp !== seen) {
      value = parse(st ? readFileSync(file, "utf8") : undefined);
      seen = stamp;
    }
    return value;
  };
}
