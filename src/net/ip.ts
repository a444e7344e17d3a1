// IP addresses and prefixes as the kernel wants them: bytes in network order.
// Parsers return errors as values.
import { isIPv4, isIPv6 } from "node:net";

/** An address with its prefix length, e.g. 10.0.0.2/24. */
export interface Prefix {
  family: 4 | 6;
  bytes: Buffer;
  length: number;
}

/** The bytes of an IPv4 or IPv6 address, or an error. */
export function parseAddress(text: string): { value: { family: 4 | 6; bytes: Buffer } } | { error: string } {
  if (isIPv4(text)) return { value: { family: 4, bytes: Buffer.from(text.split(".").map(Number)) } };
  if (isIPv6(text) && !text.includes(".")) return { value: { family: 6, bytes: ipv6Bytes(text) } };
  return { error: `expected an IPv4 or IPv6 address, got \`${text}\`` };
}

/** "10.0.0.2/24" (or "default", a bare address meaning a host) as a Prefix, or an error. */
export function parsePrefix(text: string, family: 4 | 6 = 4): { value: Prefix } | { error: string } {
  if (text === "default") return { value: { family, bytes: Buffer.alloc(family === 4 ? 4 : 16), length: 0 } };
  const [addr = "", len, ...rest] = text.split("/");
  const parsed = parseAddress(addr);
  if ("error" in parsed) return { error: `expected an address/prefix, got \`${text}\`` };
  const max = parsed.value.family === 4 ? 32 : 128;
  const length = len === undefined ? max : Number(len);
  if (rest.length || !/^\d+$/.test(len ?? String(max)) || length > max) {
    return { error: `expected a prefix length of 0-${max} in \`${text}\`` };
  }
  return { value: { ...parsed.value, length } };
}

/** The 16 bytes of an IPv6 address Node has already validated (no embedded IPv4). */
function ipv6Bytes(text: string): Buffer {
  const [head = "", tail] = text.split("::");
  const groups = (s: string) => (s ? s.split(":").map((g) => Number.parseInt(g, 16)) : []);
  const left = groups(head);
  const right = groups(tail ?? "");
  const all = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill(0), ...right];
  const out = Buffer.alloc(16);
  for (const [i, g] of all.entries()) out.writeUInt16BE(g, i * 2);
  return out;
}

/** An address's text from its 4 or 16 bytes (IPv6 with the longest zero run shortened). */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join(".");
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[i * 2] ?? 0) << 8) | (bytes[i * 2 + 1] ?? 0));
  const [start, len] = longestZeroRun(groups);
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(":");
  if (len < 2) return hex(groups);
  return `${hex(groups.slice(0, start))}::${hex(groups.slice(start + len))}`;
}

/** [start, length] of the first longest run of zero groups. */
function longestZeroRun(groups: number[]): [number, number] {
  let best: [number, number] = [0, 0];
  let start = -1;
  groups.forEach((g, i) => {
    if (g === 0 && start < 0) start = i;
    if (g === 0 && i - start + 1 > best[1]) best = [start, i - start + 1];
    if (g !== 0) start = -1;
  });
  return best;
}
