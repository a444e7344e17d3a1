// Sandbox addresses. Every sandbox gets a /30 of one private range
// (10.213.0.0/16 unless $KILN_SANDBOX_CIDR names another): slot N is the
// N-th /30, the host end of its veth pair (`kiln-N`) holds .1 of it and the
// sandbox's eth0 .2, with its default route via .1. See docs/sandbox.md.
import { apidPort } from "../../machinery/apid.js";

/** The range sandboxes take their /30s from by default. */
export const defaultSandboxCidr = "10.213.0.0/16";

/** Each sandbox's own network: network, host end, sandbox end, broadcast. */
export const slotPrefixLength = 30;

/** A private IPv4 range cut into /30 slots. */
export interface AddressRange {
  cidr: string;
  /** The network address as a 32-bit number. */
  base: number;
  prefixLength: number;
  /** How many /30s it holds. */
  slots: number;
}

/** One slot's addresses and the host-side interface that carries them. */
export interface SlotAddresses {
  slot: number;
  /** The /30, e.g. "10.213.0.4/30"; it names the slot across ranges. */
  network: string;
  /** The host end of the veth pair, `kiln-<slot>` (at most 15 characters). */
  link: string;
  /** The host end's address, the sandbox's gateway. */
  hostAddress: string;
  /** The sandbox's address on eth0. */
  address: string;
  prefixLength: number;
}

/** The private ranges (RFC 1918) a sandbox range must lie in. */
const privateRanges = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"].map((c) => parseCidrText(c) as { base: number; prefixLength: number });

/** Parses a sandbox range such as "10.213.0.0/16"; errors as values. */
export function parseRange(text: string): { value: AddressRange } | { error: string } {
  const parsed = parseCidrText(text);
  if (typeof parsed === "string") return { error: `Expected the sandbox range to be an IPv4 CIDR such as ${defaultSandboxCidr}, got ${JSON.stringify(text)}: ${parsed}` };
  const { base, prefixLength } = parsed;
  if (prefixLength < 8 || prefixLength > slotPrefixLength) {
    return { error: `Expected the sandbox range's prefix length to be between 8 and ${slotPrefixLength}, got ${prefixLength} (${text})` };
  }
  if (!privateRanges.some((p) => p.prefixLength <= prefixLength && sameNetwork(p.base, base, p.prefixLength))) {
    return { error: `Expected the sandbox range to be private (inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16), got ${text}` };
  }
  return { value: { cidr: `${formatIp(base)}/${prefixLength}`, base, prefixLength, slots: 2 ** (slotPrefixLength - prefixLength) } };
}

/** The range in use: $KILN_SANDBOX_CIDR or the default; throws when the variable is invalid. */
export function sandboxRange(env: NodeJS.ProcessEnv = process.env): AddressRange {
  const text = env.KILN_SANDBOX_CIDR || defaultSandboxCidr;
  const r = parseRange(text);
  if ("error" in r) throw new Error(`KILN_SANDBOX_CIDR: ${r.error}`);
  return r.value;
}

/** The addresses of slot `slot` of `range`. */
export function slotAddresses(range: AddressRange, slot: number): SlotAddresses {
  if (!Number.isInteger(slot) || slot < 0 || slot >= range.slots) {
    throw new Error(`Expected a slot of ${range.cidr} between 0 and ${range.slots - 1}, got ${slot}`);
  }
  const network = range.base + slot * 4;
  return {
    slot,
    network: `${formatIp(network)}/${slotPrefixLength}`,
    link: `kiln-${slot}`,
    hostAddress: formatIp(network + 1),
    address: formatIp(network + 2),
    prefixLength: slotPrefixLength,
  };
}

/** "HOST:PORT" of apid at `address`. */
export function apidEndpoint(address: string): string {
  return `${address}:${apidPort}`;
}

/** Dotted quad of a 32-bit number. */
export function formatIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
}

/** A dotted quad as a number, or undefined when it is not one. */
export function parseIp(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

/** "a.b.c.d/len" as base and prefix length, or why not (host bits must be zero). */
function parseCidrText(text: string): { base: number; prefixLength: number } | string {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  const base = m ? parseIp(m[1]!) : undefined;
  const prefixLength = m ? Number(m[2]) : Number.NaN;
  if (base === undefined || !(prefixLength <= 32)) return "not ADDRESS/PREFIX";
  const network = (base & mask(prefixLength)) >>> 0;
  if (network !== base) return `host bits are set (the network is ${formatIp(network)}/${prefixLength})`;
  return { base, prefixLength };
}

/** Whether `a` and `b` share the first `len` bits. */
function sameNetwork(a: number, b: number, len: number): boolean {
  return ((a & mask(len)) >>> 0) === ((b & mask(len)) >>> 0);
}

/** The netmask of a prefix length as a (signed) 32-bit number. */
function mask(len: number): number {
  return len === 0 ? 0 : ~0 << (32 - len);
}
