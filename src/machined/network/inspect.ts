// The machine's links, addresses and routes as the kernel has them, read over
// rtnetlink on each call. Works on every platform: in the sandbox it shows the
// sandbox's own network namespace (its veth).
import { type Address, type Link, openRtnetlink, type Route, type Rtnetlink } from "../../net/rtnetlink.js";
import type { Sys } from "../../sys/sys.js";

export interface NetworkInspector {
  links(): Promise<Link[]>;
  addresses(): Promise<Address[]>;
  /** The main table's unicast routes. */
  routes(): Promise<Route[]>;
}

/** Reads through a netlink socket opened for the one call. */
export function createNetworkInspector(sys: Sys): NetworkInspector {
  const read = async <T>(fn: (nl: Rtnetlink) => T): Promise<T> => {
    const nl = openRtnetlink(sys);
    try {
      return fn(nl);
    } finally {
      nl.close();
    }
  };
  return {
    links: () => read((nl) => nl.linkList()),
    addresses: () => read((nl) => nl.addrList()),
    routes: () => read((nl) => nl.routeList()),
  };
}
