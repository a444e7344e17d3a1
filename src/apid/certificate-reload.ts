// apid's server certificate replaced without a restart. When the machine
// gains an address, machined issues a new server certificate and renames its
// key and then it into apid's TLS directory (src/machined/apid-tls.ts,
// writeServerCert); apid sees the directory change, reads the pair, checks
// that the key is the certificate's (it may have read between the two
// renames: the second one's event checks again) and hands it to its
// servers. New connections get the new certificate; calls under way go on.
import { type FSWatcher, watch } from "node:fs";
import { checkPair, readServerTls, type ServerTls } from "./tls-credentials.js";

export interface CertificateReload {
  /** Stops watching. */
  close(): void;
}

/** Watches `dir` for a new server certificate; `apply` gets each new checked pair (the CA as read at start). */
export function reloadServerCertificate(dir: string, current: ServerTls, apply: (tls: ServerTls) => void, log: (line: string) => void, settleMs = 100): CertificateReload {
  let timer: NodeJS.Timeout | undefined;
  let checking = Promise.resolve();
  const check = async () => {
    let next: ServerTls;
    try {
      next = { ...(await readServerTls(dir, false)), ...(current.ca ? { ca: current.ca } : {}) };
    } catch {
      return; // a file mid-rename: its event comes next
    }
    if (next.cert.equals(current.cert) && next.key.equals(current.key)) return;
    try {
      checkPair(next);
    } catch (err) {
      log(`a new server certificate in ${dir} is not usable yet (${(err as Error).message}); serving the previous one`);
      return;
    }
    current = next;
    apply(next);
    log(`serving a new server certificate from ${dir} (calls under way keep theirs)`);
  };
  const soon = () => {
    clearTimeout(timer);
    // One check at a time, after the directory has been quiet for settleMs.
    timer = setTimeout(() => {
      checking = checking.then(check);
    }, settleMs);
  };
  let watcher: FSWatcher | undefined = watch(dir, soon);
  watcher.on("error", (err) => log(`watching ${dir} for a new server certificate: ${err.message}; a new one now needs a restart`));
  // A pair machined wrote after apid read its files but before the watch began has no event of its own.
  soon();
  return {
    close: () => {
      clearTimeout(timer);
      watcher?.close();
      watcher = undefined;
    },
  };
}
