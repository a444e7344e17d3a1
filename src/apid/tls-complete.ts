// machined writes apid's TLS directory while apid's node starts (the apid
// service's prepareAlongside): apid reads it only once the `complete` file,
// written last, holds the stamp machined started it with. An older
// directory's file holds another stamp; until machined hands the directory
// over, apid's user cannot read it at all.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { apidTlsFiles } from "../machinery/apid.js";

/** How often, and how long in all, apid looks before it gives up (and machined's restart policy starts it again). */
export interface TlsWait {
  everyMs: number;
  timeoutMs: number;
}

const defaults: TlsWait = { everyMs: 25, timeoutMs: 120_000 };

/** Resolves once `dir`'s complete file holds `stamp`; `onWait` is told once when it does not yet. */
export async function tlsComplete(dir: string, stamp: string, onWait: () => void, w: TlsWait = defaults): Promise<void> {
  const file = join(dir, apidTlsFiles.complete);
  const until = Date.now() + w.timeoutMs;
  let told = false;
  for (;;) {
    const text = await readFile(file, "utf8").catch(() => undefined);
    if (text === stamp) return;
    if (Date.now() >= until) {
      const seen = text === undefined ? "is not there (or not readable)" : "holds another start's stamp";
      throw new Error(`${file} ${seen} after ${w.timeoutMs / 1000} s: machined writes it last, once apid's certificates are in ${dir}`);
    }
    if (!told) onWait();
    told = true;
    await new Promise((r) => setTimeout(r, w.everyMs));
  }
}
