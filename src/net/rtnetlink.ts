// Links, addresses and routes over a NETLINK_ROUTE socket: what `ip link`,
// `ip addr` and `ip route` do, for an image that has no `ip`. Every request
// asks for an ACK; a failure is a NetlinkError naming the operation.
import { AF, SOCK, type Sys, SysError } from "../sys/sys.js";
import { formatAddress, parseAddress, parsePrefix } from "./ip.js";
import {
  type Attr,
  attrString,
  decodeAttrs,
  decodeIfAddr,
  decodeIfInfo,
  decodeMessages,
  encodeAttrs,
  encodeIfAddr,
  encodeIfInfo,
  encodeMessage,
  decodeRtMsg,
  encodeRtMsg,
  errnoOf,
  type Message,
  NETLINK_ROUTE,
  NetlinkError,
  NLM_F,
  NLMSG,
  RTM,
  stringAttr,
  u32Attr,
} from "./netlink.js";

const IFF_UP = 0x1;
const IFF_LOWER_UP = 0x10000;
const IFLA = { ADDRESS: 1, IFNAME: 3, MTU: 4 } as const;
const IFA = { ADDRESS: 1, LOCAL: 2 } as const;
const RTA = { DST: 1, OIF: 4, GATEWAY: 5, PRIORITY: 6, PREFSRC: 7, TABLE: 15 } as const;
const RT_TABLE_MAIN = 254;
const RTPROT_STATIC = 4;
/**
 * The protocol (rtm_protocol) of the routes kiln's pod-route reconciler makes:
 * 0x4b, "K", unused by the kernel's list (linux/rtnetlink.h) and iproute2's
 * rt_protos. It marks what the reconciler owns; it never touches other routes.
 */
export const RTPROT_KILN = 0x4b;
const RT_SCOPE = { UNIVERSE: 0, LINK: 253, NOWHERE: 255 } as const;
const RTN_UNICAST = 1;
const RECV_SIZE = 64 * 1024;

/** A network interface as the kernel lists it. */
export interface Link {
  index: number;
  name: string;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Carrier present (IFF_LOWER_UP). */
  lowerUp: boolean;
  mtu: number;
  mac: string;
}

/** An address assigned to a link. */
export interface Address {
  link: string;
  index: number;
  family: 4 | 6;
  address: string;
  prefixLength: number;
}

/** A route to add: `dst` is a prefix or "default"; a gateway, a device or both. */
export interface RouteSpec {
  dst: string;
  gateway?: string;
  dev?: string;
  /** RTA_PRIORITY; lower wins. */
  metric?: number;
  /** rtm_protocol when adding (default static); when removing, only a route of this protocol matches (default any). */
  protocol?: number;
}

/** A route of the main table as the kernel lists it. */
export interface Route {
  family: 4 | 6;
  /** "default" or a prefix, e.g. "10.0.2.0/24". */
  dst: string;
  gateway: string;
  /** The output link's name ("" when it has none). */
  dev: string;
  metric: number;
  /** Preferred source address ("" when unset). */
  source: string;
  /** kernel, boot, static, dhcp, ra… or the number. */
  protocol: string;
  /** universe, link, host… or the number. */
  scope: string;
}

export interface Rtnetlink {
  linkList(): Link[];
  linkSetUp(name: string): void;
  /** Adds `cidr` (e.g. "10.0.0.2/24") to link `name`. */
  addrAdd(name: string, cidr: string): void;
  /** Removes `cidr` from link `name`. */
  addrDel(name: string, cidr: string): void;
  addrList(): Address[];
  routeAdd(route: RouteSpec): void;
  /** Removes the route matching dst, gateway, device and metric. */
  routeDel(route: RouteSpec): void;
  /** Every route of the main table. */
  routeList(): Route[];
  /** Sets link `name`'s MTU. */
  linkSetMtu(name: string, mtu: number): void;
  /** Clears IFF_UP on link `name`. */
  linkSetDown(name: string): void;
  close(): void;
}

type Send = (operation: string, type: number, flags: number, payload: Uint8Array) => Message[];

/** Runs a netlink change, ignoring EEXIST. */
export function existsOk(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof NetlinkError && err.code === "EEXIST")) throw err;
  }
}

/** Runs a netlink removal, ignoring what is already gone (ESRCH, EADDRNOTAVAIL, ENODEV). */
export function goneOk(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof NetlinkError && ["ESRCH", "EADDRNOTAVAIL", "ENODEV", "ENOENT"].includes(err.code))) throw err;
  }
}

/** Opens a NETLINK_ROUTE socket in the caller's network namespace. */
export function openRtnetlink(sys: Sys): Rtnetlink {
  const fd = sys.socket(AF.NETLINK, SOCK.RAW | SOCK.CLOEXEC, NETLINK_ROUTE);
  let seq = 0;
  const send: Send = (operation, type, flags, payload) =>
    request(sys, fd, operation, { type, flags: NLM_F.REQUEST | flags, seq: ++seq, pid: 0, payload });
  return {
    linkList: () => linkList(send),
    linkSetUp: (name) => linkSetUp(send, name),
    addrAdd: (name, cidr) => addrChange(send, "adding", RTM.NEWADDR, name, cidr),
    addrDel: (name, cidr) => addrChange(send, "removing", RTM.DELADDR, name, cidr),
    addrList: () => addrList(send),
    routeAdd: (route) => routeChange(send, "adding", route),
    routeDel: (route) => routeChange(send, "removing", route),
    routeList: () => routeList(send),
    linkSetMtu: (name, mtu) => linkSetMtu(send, name, mtu),
    linkSetDown: (name) => linkSetDown(send, name),
    close: () => sys.close(fd),
  };
}

/** Sends one request and collects its replies up to the ACK or the end of the dump. */
function request(sys: Sys, fd: number, operation: string, msg: Omit<Message, "payload"> & { payload: Uint8Array }): Message[] {
  sysStep(operation, () => sys.send(fd, encodeMessage(msg), 0));
  const replies: Message[] = [];
  for (;;) {
    for (const m of receive(sys, fd, operation)) {
      if (m.seq !== msg.seq) continue;
      const errno = errnoOf(m);
      if (errno) throw new NetlinkError(operation, errno);
      if (m.type === NLMSG.ERROR || m.type === NLMSG.DONE) return replies;
      replies.push(m);
    }
  }
}

/** The messages of the next datagram on the socket. */
function receive(sys: Sys, fd: number, operation: string): Message[] {
  const buf = sysStep(operation, () => sys.recv(fd, RECV_SIZE, 0));
  if (buf.length === 0) throw new Error(`${operation}: the netlink socket returned nothing`);
  const decoded = decodeMessages(buf);
  if ("error" in decoded) throw new Error(`${operation}: ${decoded.error}`);
  return decoded.value;
}

/** Runs a syscall, turning its SysError into a NetlinkError for `operation`. */
function sysStep<T>(operation: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SysError) throw new NetlinkError(operation, err.errno, { cause: err });
    throw err;
  }
}

/** A request payload: a fixed struct followed by attributes. */
function body(head: Buffer, attrs: Attr[] = []): Buffer {
  return Buffer.concat([head, encodeAttrs(attrs)]);
}

/** Every link (RTM_GETLINK dump). */
function linkList(send: Send): Link[] {
  const head = encodeIfInfo({ family: 0, type: 0, index: 0, flags: 0, change: 0 });
  return send("listing links", RTM.GETLINK, NLM_F.DUMP, head)
    .filter((m) => m.type === RTM.NEWLINK)
    .map(decodeLink);
}

/** A Link from an RTM_NEWLINK message. */
function decodeLink(m: Message): Link {
  const info = decodeIfInfo(m.payload);
  const attrs = new Map(decodeAttrs(m.payload.subarray(16)).map((a) => [a.type, Buffer.from(a.data)]));
  const name = attrs.get(IFLA.IFNAME);
  const mtu = attrs.get(IFLA.MTU);
  const mac = attrs.get(IFLA.ADDRESS) ?? Buffer.alloc(0);
  return {
    index: info.index,
    name: name ? attrString(name) : "",
    up: (info.flags & IFF_UP) !== 0,
    lowerUp: (info.flags & IFF_LOWER_UP) !== 0,
    mtu: mtu && mtu.length >= 4 ? mtu.readUInt32LE(0) : 0,
    mac: Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":"),
  };
}

/** The index of link `name` (RTM_GETLINK by IFLA_IFNAME); ENODEV if none. */
function linkIndex(send: Send, operation: string, name: string): number {
  const head = encodeIfInfo({ family: 0, type: 0, index: 0, flags: 0, change: 0 });
  const [reply] = send(operation, RTM.GETLINK, NLM_F.ACK, body(head, [stringAttr(IFLA.IFNAME, name)]));
  if (!reply) throw new Error(`${operation}: the kernel sent no link for ${name}`);
  return decodeIfInfo(reply.payload).index;
}

/** Sets IFF_UP on link `name` (RTM_SETLINK by name). */
function linkSetUp(send: Send, name: string): void {
  const head = encodeIfInfo({ family: 0, type: 0, index: 0, flags: IFF_UP, change: IFF_UP });
  send(`setting ${name} up`, RTM.SETLINK, NLM_F.ACK, body(head, [stringAttr(IFLA.IFNAME, name)]));
}

/** Adds (RTM_NEWADDR, fails if present) or removes (RTM_DELADDR) an address with its prefix on a link. */
function addrChange(send: Send, verb: "adding" | "removing", type: number, name: string, cidr: string): void {
  const operation = `${verb} ${cidr} ${verb === "adding" ? "to" : "from"} ${name}`;
  const prefix = parsePrefix(cidr);
  if ("error" in prefix) throw new Error(`${operation}: ${prefix.error}`);
  const { family, bytes, length } = prefix.value;
  const index = linkIndex(send, operation, name);
  const head = encodeIfAddr({ family: family === 4 ? AF.INET : AF.INET6, prefixLength: length, flags: 0, scope: 0, index });
  const attrs = [{ type: IFA.LOCAL, data: bytes }, { type: IFA.ADDRESS, data: bytes }];
  const flags = type === RTM.NEWADDR ? NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL : NLM_F.ACK;
  send(operation, type, flags, body(head, attrs));
}

/** Every address on every link (RTM_GETADDR dump), with link names. */
function addrList(send: Send): Address[] {
  const names = new Map(linkList(send).map((l) => [l.index, l.name]));
  const head = encodeIfAddr({ family: 0, prefixLength: 0, flags: 0, scope: 0, index: 0 });
  return send("listing addresses", RTM.GETADDR, NLM_F.DUMP, head)
    .filter((m) => m.type === RTM.NEWADDR)
    .map((m) => decodeAddress(m, names));
}

/** An Address from an RTM_NEWADDR message; IFA_LOCAL wins over IFA_ADDRESS (peer) when both. */
function decodeAddress(m: Message, names: Map<number, string>): Address {
  const info = decodeIfAddr(m.payload);
  const attrs = new Map(decodeAttrs(m.payload.subarray(8)).map((a) => [a.type, a.data]));
  const bytes = attrs.get(IFA.LOCAL) ?? attrs.get(IFA.ADDRESS) ?? new Uint8Array(0);
  return {
    link: names.get(info.index) ?? "",
    index: info.index,
    family: info.family === AF.INET6 ? 6 : 4,
    address: formatAddress(bytes),
    prefixLength: info.prefixLength,
  };
}

/** Adds (RTM_NEWROUTE, fails if present) or removes (RTM_DELROUTE) a route of the main table. */
function routeChange(send: Send, verb: "adding" | "removing", route: RouteSpec): void {
  const metric = route.metric === undefined ? "" : ` metric ${route.metric}`;
  const operation = `${verb} route ${route.dst}${route.gateway ? ` via ${route.gateway}` : ""}${route.dev ? ` dev ${route.dev}` : ""}${metric}`;
  const attrs = routeAttrs(operation, route);
  if (route.metric !== undefined) attrs.list.push(u32Attr(RTA.PRIORITY, route.metric));
  const family = attrs.family === 4 ? AF.INET : AF.INET6;
  const oif = route.dev === undefined ? [] : [u32Attr(RTA.OIF, linkIndex(send, operation, route.dev))];
  const head = encodeRtMsg({
    family, dstLength: attrs.dstLength, srcLength: 0, tos: 0, table: RT_TABLE_MAIN,
    // Removal matches any scope and, unless one is named, any protocol, as `ip route del` asks.
    protocol: route.protocol ?? (verb === "adding" ? RTPROT_STATIC : 0),
    scope: verb === "removing" ? RT_SCOPE.NOWHERE : route.gateway ? RT_SCOPE.UNIVERSE : RT_SCOPE.LINK,
    type: RTN_UNICAST, flags: 0,
  });
  const [type, flags] = verb === "adding" ? [RTM.NEWROUTE, NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL] : [RTM.DELROUTE, NLM_F.ACK];
  send(operation, type, flags, body(head, [...attrs.list, ...oif]));
}

/** RTA_DST and RTA_GATEWAY for a route, with its family and prefix length. */
function routeAttrs(operation: string, route: RouteSpec): { family: 4 | 6; dstLength: number; list: Attr[] } {
  if (!route.gateway && !route.dev) throw new Error(`${operation}: a route needs a gateway or a device`);
  const gateway = route.gateway === undefined ? undefined : parseAddress(route.gateway);
  if (gateway && "error" in gateway) throw new Error(`${operation}: ${gateway.error}`);
  const dst = parsePrefix(route.dst, gateway?.value.family);
  if ("error" in dst) throw new Error(`${operation}: ${dst.error}`);
  if (gateway && gateway.value.family !== dst.value.family) throw new Error(`${operation}: gateway and destination differ in family`);
  const list: Attr[] = dst.value.length ? [{ type: RTA.DST, data: dst.value.bytes }] : [];
  if (gateway) list.push({ type: RTA.GATEWAY, data: gateway.value.bytes });
  return { family: dst.value.family, dstLength: dst.value.length, list };
}

/** Sets link `name`'s MTU (RTM_SETLINK with IFLA_MTU). */
function linkSetMtu(send: Send, name: string, mtu: number): void {
  const head = encodeIfInfo({ family: 0, type: 0, index: 0, flags: 0, change: 0 });
  send(`setting ${name} mtu ${mtu}`, RTM.SETLINK, NLM_F.ACK, body(head, [stringAttr(IFLA.IFNAME, name), u32Attr(IFLA.MTU, mtu)]));
}

/** Clears IFF_UP on link `name`. */
function linkSetDown(send: Send, name: string): void {
  const head = encodeIfInfo({ family: 0, type: 0, index: 0, flags: 0, change: IFF_UP });
  send(`setting ${name} down`, RTM.SETLINK, NLM_F.ACK, body(head, [stringAttr(IFLA.IFNAME, name)]));
}

const protocols: Record<number, string> = { 0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 16: "dhcp", 9: "ra", [RTPROT_KILN]: "kiln" };
const scopes: Record<number, string> = { 0: "universe", 200: "site", 253: "link", 254: "host", 255: "nowhere" };

/** The unicast routes of the main table, IPv4 and IPv6 (RTM_GETROUTE dump). */
function routeList(send: Send): Route[] {
  const names = new Map(linkList(send).map((l) => [l.index, l.name]));
  const head = encodeRtMsg({ family: 0, dstLength: 0, srcLength: 0, tos: 0, table: 0, protocol: 0, scope: 0, type: 0, flags: 0 });
  return send("listing routes", RTM.GETROUTE, NLM_F.DUMP, head)
    .filter((m) => m.type === RTM.NEWROUTE)
    .map((m) => decodeRoute(m, names))
    .filter((r): r is Route => r !== undefined);
}

/** A Route from an RTM_NEWROUTE message; undefined for other tables and non-unicast types. */
function decodeRoute(m: Message, names: Map<number, string>): Route | undefined {
  const info = decodeRtMsg(m.payload);
  const attrs = new Map(decodeAttrs(m.payload.subarray(12)).map((a) => [a.type, Buffer.from(a.data)]));
  const table = attrs.get(RTA.TABLE)?.readUInt32LE(0) ?? info.table;
  if (table !== RT_TABLE_MAIN || info.type !== RTN_UNICAST) return undefined;
  const family = info.family === AF.INET6 ? 6 : 4;
  const dst = attrs.get(RTA.DST);
  const text = (b: Buffer | undefined) => (b ? formatAddress(b) : "");
  return {
    family,
    dst: info.dstLength === 0 ? "default" : `${text(dst)}/${info.dstLength}`,
    gateway: text(attrs.get(RTA.GATEWAY)),
    dev: names.get(attrs.get(RTA.OIF)?.readUInt32LE(0) ?? 0) ?? "",
    metric: attrs.get(RTA.PRIORITY)?.readUInt32LE(0) ?? 0,
    source: text(attrs.get(RTA.PREFSRC)),
    protocol: protocols[info.protocol] ?? String(info.protocol),
    scope: scopes[info.scope] ?? String(info.scope),
  };
}
