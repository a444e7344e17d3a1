// A service's log file: appended synchronously (a crash loses nothing that
// was written), rotated by size to `<file>.1` so the disk use is bounded.
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";

export interface LogFile {
  write(chunk: Uint8Array): void;
  close(): void;
  /** Set once writing failed; the file is then left alone. */
  readonly error: Error | undefined;
}

/** Opens (lazily) `path` for appending, rotating it past `maxBytes`. */
export function createLogFile(path: string, maxBytes: number): LogFile {
  let fd: number | undefined;
  let size = 0;
  let error: Error | undefined;
  const open = () => {
    mkdirSync(dirname(path), { recursive: true });
    fd = openSync(path, "a", 0o640);
    size = fstatSync(fd).size;
  };
  const close = () => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
  };
  /** Moves the full file to `.1` (replacing the previous one) and starts anew. */
  const rotate = () => {
    close();
    renameSync(path, `${path}.1`);
    open();
  };
  return {
    write(chunk) {
      if (error) return;
      try {
        if (fd === undefined) open();
        if (size > 0 && size + chunk.length > maxBytes) rotate();
        size += writeAll(fd!, chunk);
      } catch (err) {
        error = new Error(`writing log file ${path}`, { cause: err });
        close();
      }
    },
    close,
    get error() {
      return error;
    },
  };
}

/** Writes the whole chunk (writeSync may write less). */
function writeAll(fd: number, chunk: Uint8Array): number {
  let done = 0;
  while (done < chunk.length) done += writeSync(fd, chunk, done);
  return done;
}
