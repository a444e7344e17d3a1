// A node a call names that is this machine itself: apid serves it through
// machined's socket, as it serves a call that names no node, instead of
// calling its own port. A worker's apid, whose certificate a control plane
// issued, holds no client certificate, so this is the only way `-n` with its
// own address reaches it; on every machine it saves a TLS hop.
import { apidModeHeader } from "../machinery/apid.js";
import { localAddresses } from "../machinery/local-addresses.js";
import { isRole, roleHeader } from "./roles.js";
import type { Lanes } from "./lanes.js";
import type { ForwardOptions, Upstream } from "./upstream.js";

/** Whether a target ("host:port", "[v6]:port") is this machine's apid, and how to reach machined for it. */
export interface SelfRoute {
  isSelf(target: string): boolean;
  upstream: Upstream;
}

/** A route to machined for calls that name this machine: its addresses (read per call: they change) at `port`. */
export function selfRoute(machined: Lanes, port: number, addresses: () => string[] = localAddresses): SelfRoute {
  return {
    isSelf: (target) => {
      const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(target);
      if (!m || Number(m[3]) !== port) return false;
      const host = (m[1] ?? m[2]!).toLowerCase();
      return host === "localhost" || addresses().some((a) => a.toLowerCase() === host);
    },
    upstream: localUpstream(machined),
  };
}

/** machined on the lane of the role the call acts for, told it came through mTLS like any call that names no node. */
function localUpstream(machined: Lanes): Upstream {
  const lane = (o: ForwardOptions) => {
    const role = o.metadata?.[roleHeader];
    return machined.of(role !== undefined && isRole(role) ? role : "apid");
  };
  const local = (o: ForwardOptions): ForwardOptions => ({ deadline: o.deadline, signal: o.signal, metadata: { [apidModeHeader]: "mtls" } });
  return {
    unary: (path, request, o) => lane(o).unary(path, request, local(o)),
    stream: (path, request, o) => lane(o).stream(path, request, local(o)),
    clientStream: (path, requests, o) => lane(o).clientStream(path, requests, local(o)),
    close: () => {},
  };
}
