// How many server streams apid keeps open at once: per client connection,
// and per role across all connections. A stream past either limit is
// refused with RESOURCE_EXHAUSTED naming it; a stream's slot is given back
// when it ends.
import { ApiError, Code } from "../grpc/errors.js";
import { maxStreamsPerConnection, maxStreamsPerRole } from "../machinery/api-limits.js";
import type { Caller } from "./identity.js";
import type { Role } from "./roles.js";

export interface StreamLimitValues {
  perConnection: number;
  perRole: Record<Role, number>;
}

export interface StreamLimits {
  /** Takes a slot for a stream from `connection` (the peer address) or throws RESOURCE_EXHAUSTED; returns its release (safe to call twice). */
  open(connection: string, caller: Caller | undefined): () => void;
}

/** Stream counters with the limits of src/machinery/api-limits.ts, or `limits`. */
export function createStreamLimits(limits: StreamLimitValues = { perConnection: maxStreamsPerConnection, perRole: maxStreamsPerRole }): StreamLimits {
  const byConnection = new Map<string, number>();
  const byRole = new Map<Role, number>();
  return {
    open: (connection, caller) => {
      // A call another apid forwards shares that apid's connection with all its callers: the role's limit bounds it, here and there.
      const perConnection = !caller?.impersonated;
      if (perConnection && (byConnection.get(connection) ?? 0) >= limits.perConnection) {
        throw new ApiError(Code.RESOURCE_EXHAUSTED, `this connection has ${limits.perConnection} streams open; the limit is ${limits.perConnection} streams a connection`);
      }
      const role = caller?.role;
      if (role && (byRole.get(role) ?? 0) >= limits.perRole[role]) {
        throw new ApiError(Code.RESOURCE_EXHAUSTED, `callers with role ${role} have ${limits.perRole[role]} streams open; the limit is ${limits.perRole[role]} streams for ${role}`);
      }
      if (perConnection) add(byConnection, connection, 1);
      if (role) add(byRole, role, 1);
      let open = true;
      return () => {
        if (!open) return;
        open = false;
        if (perConnection) add(byConnection, connection, -1);
        if (role) add(byRole, role, -1);
      };
    },
  };
}

/** Adds `n` to a counter, dropping it at zero. */
function add<K>(counts: Map<K, number>, key: K, n: number): void {
  const v = (counts.get(key) ?? 0) + n;
  if (v > 0) counts.set(key, v);
  else counts.delete(key);
}
