// Every service's log, created on first use. The supervisor writes through
// `sink(id)`; the machine API reads through `read(query)`.
import type { LogSink } from "../service.js";
import { createServiceLog, type LogLimits, type ReadQuery, type ServiceLog } from "./service-log.js";

/** What the supervisor needs: somewhere to send each service's output. */
export interface LogSinks {
  sink(id: string): LogSink;
}

export interface LogStore extends LogSinks {
  /** The log of service `id` (empty until it writes). */
  get(id: string): ServiceLog;
  /** Tail and/or follow service `id`'s output. */
  read(query: ReadQuery & { id: string }): AsyncIterable<Uint8Array>;
  /** Closes every log file. */
  close(): void;
}

export interface LogStoreOptions extends LogLimits {
  /** Where `<id>.log` files go, e.g. /var/log. */
  dir: string;
}

/** Creates the store of service logs. */
export function createLogStore({ dir, ...limits }: LogStoreOptions): LogStore {
  const logs = new Map<string, ServiceLog>();
  const get = (id: string) => {
    const log = logs.get(id) ?? createServiceLog(id, dir, limits);
    logs.set(id, log);
    return log;
  };
  return {
    get,
    sink: get,
    read: (query) => get(query.id).read(query),
    close() {
      for (const log of logs.values()) log.close();
    },
  };
}
