// apid's connections to machined's socket: one per lane (a caller's role,
// apid's own calls, the trust port's), so one role's calls never wait behind
// another's on a shared HTTP/2 connection.
import type { Role } from "./roles.js";
import { createSocketUpstream } from "./socket-upstream.js";
import type { Upstream } from "./upstream.js";

/** Whose calls share a connection: a caller's role, "apid" for apid's own calls (health) and maintenance mode, "trust" for the trust port's. */
export type Lane = Role | "apid" | "trust";

/** Upstreams to one target, a connection per lane, so one role's calls never wait behind another's. */
export interface Lanes {
  of(lane: Lane): Upstream;
  close(): void;
}

/**
 * Lanes to machined's socket at `path`, each its own HTTP/2 connection opened
 * on first use: a reader's held streams never count against the connection
 * (its stream limit, its flow control) an admin's call goes over.
 */
export function createLanes(path: string): Lanes {
  const lanes = new Map<Lane, Upstream>();
  const of = (lane: Lane) => {
    const open = lanes.get(lane);
    if (open) return open;
    const u = createSocketUpstream(path);
    lanes.set(lane, u);
    return u;
  };
  const close = () => {
    for (const u of lanes.values()) u.close();
    lanes.clear();
  };
  return { of, close };
}

