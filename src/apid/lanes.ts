// apid's connections to machined's socket: one per lane (a caller's role,
// apid's own calls, the trust port's), so one role's calls never wait behind
// another's on a shared connection.
import type { Role } from "./roles.js";
import { createLinkUpstream } from "./link-upstream.js";
import type { Upstream } from "./upstream.js";

/** Whose calls share a connection: a caller's role, "apid" for apid's own calls (health) and maintenance mode, "trust" for the trust port's. */
export type Lane = Role | "apid" | "trust";

/** Upstreams to one target, a connection per lane, so one role's calls never wait behind another's. */
export interface Lanes {
  of(lane: Lane): Upstream;
  close(): void;
}

/**
 * Lanes to machined's socket at `path`, each its own link connection opened
 * on first use: a reader's held streams and large uploads never share the
 * socket (its buffers, its stream limit) an admin's call goes over.
 */
export function createLanes(path: string): Lanes {
  const lanes = new Map<Lane, Upstream>();
  const of = (lane: Lane) => {
    const open = lanes.get(lane);
    if (open) return open;
    const u = createLinkUpstream(path);
    lanes.set(lane, u);
    return u;
  };
  const close = () => {
    for (const u of lanes.values()) u.close();
    lanes.clear();
  };
  return { of, close };
}

