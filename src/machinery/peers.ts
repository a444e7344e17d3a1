// The nodes an apid may forward a call to (machine.api.peers): the only
// targets of fan-out, so a caller cannot make apid dial anything else (its
// own loopback ports, the internet). An entry is an address or a name
// (apid's port), "address:port" / "[v6]:port" / "name:port", or a network in
// CIDR form (apid's port on any address in it). Without the field, the
// networks of the machine's own addresses are its peers: the nodes on its
// links, at apid's port. Names are matched as written, never resolved.
import { BlockList, isIP } from "node:net";
import { apidPort } from "./apid.js";

/** How an unset machine.api.peers reads in apid's peers file. */
export const defaultPeersLine = "default: this machine's networks";

/** One entry, parsed; or why it is not one. */
export type Peer = { kind: "target"; target: string } | { kind: "network"; address: string; prefix: number; family: "ipv4" | "ipv6" };

/** A config entry as a Peer, or what is wrong with it. */
export function parsePeer(text: string): Peer | { error: string } {
  const s = text.trim();
  const slash = s.indexOf("/");
  if (slash > 0) {
    const address = s.slice(0, slash);
    const prefix = Number(s.slice(slash + 1));
    const v = isIP(address);
    const max = v === 6 ? 128 : 32;
    if (v === 0 || !/^\d{1,3}$/.test(s.slice(slash + 1)) || prefix > max) return { error: `expected a network such as 10.5.0.0/24 or fd00::/64, got "${text}"` };
    return { kind: "network", address, prefix, family: v === 6 ? "ipv6" : "ipv4" };
  }
  const target = peerTarget(s);
  return target ? { kind: "target", target } : { error: `expected an address, a host name, "address:port" or a network in CIDR form, got "${text}"` };
}

/** "host", "host:port", "v6" or "[v6]:port" as "host:port" / "[v6]:port" (apid's port by default), or undefined when malformed. */
export function peerTarget(node: string): string | undefined {
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(node);
  if (bracketed) return isIP(bracketed[1]!) === 6 && portOk(bracketed[2]) ? `[${bracketed[1]!.toLowerCase()}]:${bracketed[2] ?? apidPort}` : undefined;
  if (isIP(node) === 6) return `[${node.toLowerCase()}]:${apidPort}`;
  const m = /^([A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)(?::(\d{1,5}))?$/.exec(node);
  return m && portOk(m[2]) ? `${m[1]!.toLowerCase()}:${m[2] ?? apidPort}` : undefined;
}

function portOk(port: string | undefined): boolean {
  return port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
}

/** A network of the machine's own: an interface address with its netmask (os.networkInterfaces' cidr). */
export interface LocalNetwork {
  cidr: string | null;
  internal: boolean;
}

/** Decides whether a fan-out target ("host:port", as peerTarget writes it) is a peer. */
export interface PeerList {
  allows(target: string): boolean;
  /** The entries, for the refusal's message. */
  describe(): string;
}

/** The peers `entries` name; undefined entries mean the networks in `local` (non-loopback), at apid's port. */
export function peerList(entries: readonly string[] | undefined, local: () => LocalNetwork[]): PeerList {
  const fixed = entries?.map(parsePeer).filter((p): p is Peer => !("error" in p));
  const networks = (): Peer[] =>
    local()
      .filter((n) => !n.internal && n.cidr)
      .flatMap((n) => {
        const p = parsePeer(n.cidr!);
        return "error" in p ? [] : [p];
      });
  return {
    allows: (target) => matches(fixed ?? networks(), target),
    describe: () => (fixed ? (fixed.length ? `machine.api.peers (${entries!.join(", ")})` : "machine.api.peers, which is empty") : `the default of machine.api.peers, this machine's own networks at port ${apidPort}`),
  };
}

function matches(peers: Peer[], target: string): boolean {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
  if (!m) return false;
  const [, host, port] = m as unknown as [string, string, string];
  const v = isIP(host);
  const nets = new BlockList();
  let anyNet = false;
  for (const p of peers) {
    if (p.kind === "target" && p.target === target) return true;
    if (p.kind === "network" && v !== 0 && (p.family === "ipv6") === (v === 6)) {
      nets.addSubnet(p.address, p.prefix, p.family);
      anyNet = true;
    }
  }
  return anyNet && Number(port) === apidPort && nets.check(host, v === 6 ? "ipv6" : "ipv4");
}

/** The file apid reads: each entry normalised a line, or the default line when the field is unset. */
export function peersFileText(entries: readonly string[] | undefined): string {
  if (!entries) return `${defaultPeersLine}\n`;
  return entries.map((e) => `${e.trim()}\n`).join("");
}

/** The entries in apid's peers file (undefined: the default). */
export function peersOfFile(text: string): string[] | undefined {
  const lines = text.split("\n").filter(Boolean);
  return lines.length === 1 && lines[0] === defaultPeersLine ? undefined : lines;
}
