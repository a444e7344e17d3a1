// The time sync's status where machined runs none: the configured servers,
// not synchronized, and why.
import type { TimeSyncStatus } from "../time/time-sync.js";

/** A status for `servers` when no time sync was started. */
export function unwiredTimeStatus(servers: string[]): TimeSyncStatus {
  return {
    state: servers.length ? "unsynchronized" : "disabled",
    servers,
    server: "",
    address: "",
    correction: "",
    pollMs: 0,
    lastError: servers.length ? "machined runs no time sync: the servers are not asked" : "",
  };
}
