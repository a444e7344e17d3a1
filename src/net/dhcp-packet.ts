// DHCPv4 messages as bytes (RFC 2131 layout, RFC 2132 options). Decoding
// returns errors as values: the bytes come off the network.
import { formatAddress, parseAddress } from "./ip.js";

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
const MAGIC = 0x63825363;
const FIXED_LENGTH = 236;
const BROADCAST_FLAG = 0x8000;

/** Message types (option 53). */
export const DhcpType = { DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8 } as const;
export type DhcpTypeName = keyof typeof DhcpType;

/** Option codes kiln reads or writes. */
export const Opt = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS: 6,
  HOSTNAME: 12,
  DOMAIN: 15,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETERS: 55,
  MESSAGE: 56,
  MAX_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  CLIENT_ID: 61,
  END: 255,
} as const;

/** The options kiln understands, decoded; `raw` keeps every option by code. */
export interface DhcpOptions {
  subnetMask?: string;
  routers?: string[];
  nameservers?: string[];
  hostname?: string;
  domain?: string;
  requestedIp?: string;
  leaseSeconds?: number;
  serverId?: string;
  parameters?: number[];
  message?: string;
  maxSize?: number;
  renewalSeconds?: number;
  rebindingSeconds?: number;
  clientId?: Uint8Array;
}

/** One DHCP message: the BOOTP header fields kiln uses, the type and the options. */
export interface DhcpMessage {
  op: "request" | "reply";
  type: DhcpTypeName;
  xid: number;
  secs: number;
  broadcast: boolean;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** Client hardware (Ethernet) address, "aa:bb:cc:dd:ee:ff". */
  chaddr: string;
  options: DhcpOptions;
  /** Every option as the wire had it (long options concatenated, RFC 3396). */
  raw?: Map<number, Buffer>;
}

/** Encodes a message; options are written in code order, then END. */
export function encodeDhcp(m: DhcpMessage): Buffer {
  const head = Buffer.alloc(FIXED_LENGTH + 4);
  head.writeUInt8(m.op === "request" ? 1 : 2, 0);
  head.writeUInt8(1, 1); // Ethernet
  head.writeUInt8(6, 2);
  head.writeUInt32BE(m.xid >>> 0, 4);
  head.writeUInt16BE(m.secs, 8);
  head.writeUInt16BE(m.broadcast ? BROADCAST_FLAG : 0, 10);
  for (const [i, a] of [m.ciaddr, m.yiaddr, m.siaddr, m.giaddr].entries()) ipv4Bytes(a).copy(head, 12 + i * 4);
  macBytes(m.chaddr).copy(head, 28);
  head.writeUInt32BE(MAGIC, FIXED_LENGTH);
  const opts = encodeOptions({ ...m.options }, m.type);
  return Buffer.concat([head, opts]);
}

/** The option bytes: message type first, then the rest, then END. */
function encodeOptions(o: DhcpOptions, type: DhcpTypeName): Buffer {
  const parts: Buffer[] = [tlv(Opt.MESSAGE_TYPE, Buffer.from([DhcpType[type]]))];
  const add = (code: number, value: Buffer | undefined) => value && parts.push(tlv(code, value));
  add(Opt.SUBNET_MASK, o.subnetMask === undefined ? undefined : ipv4Bytes(o.subnetMask));
  add(Opt.ROUTER, addresses(o.routers));
  add(Opt.DNS, addresses(o.nameservers));
  add(Opt.HOSTNAME, o.hostname === undefined ? undefined : Buffer.from(o.hostname));
  add(Opt.DOMAIN, o.domain === undefined ? undefined : Buffer.from(o.domain));
  add(Opt.REQUESTED_IP, o.requestedIp === undefined ? undefined : ipv4Bytes(o.requestedIp));
  add(Opt.LEASE_TIME, u32(o.leaseSeconds));
  add(Opt.SERVER_ID, o.serverId === undefined ? undefined : ipv4Bytes(o.serverId));
  add(Opt.PARAMETERS, o.parameters && Buffer.from(o.parameters));
  add(Opt.MESSAGE, o.message === undefined ? undefined : Buffer.from(o.message));
  add(Opt.MAX_SIZE, o.maxSize === undefined ? undefined : u16(o.maxSize));
  add(Opt.RENEWAL_TIME, u32(o.renewalSeconds));
  add(Opt.REBINDING_TIME, u32(o.rebindingSeconds));
  add(Opt.CLIENT_ID, o.clientId && Buffer.from(o.clientId));
  parts.push(Buffer.from([Opt.END]));
  return Buffer.concat(parts);
}

/** One option; values over 255 bytes are split into several (RFC 3396). */
function tlv(code: number, value: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let off = 0; off === 0 || off < value.length; off += 255) {
    const chunk = value.subarray(off, off + 255);
    parts.push(Buffer.from([code, chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

/** Decodes a message, or says why the bytes are not one. */
export function decodeDhcp(buf: Buffer): { value: DhcpMessage } | { error: string } {
  if (buf.length < FIXED_LENGTH + 4) return { error: `a DHCP message has at least ${FIXED_LENGTH + 4} bytes, got ${buf.length}` };
  if (buf.readUInt32BE(FIXED_LENGTH) !== MAGIC) return { error: "not a DHCP message: the magic cookie is missing" };
  const op = buf.readUInt8(0);
  if (op !== 1 && op !== 2) return { error: `expected op 1 (request) or 2 (reply), got ${op}` };
  const raw = readOptions(buf.subarray(FIXED_LENGTH + 4));
  if ("error" in raw) return raw;
  const typeCode = raw.value.get(Opt.MESSAGE_TYPE)?.[0];
  const type = (Object.keys(DhcpType) as DhcpTypeName[]).find((k) => DhcpType[k] === typeCode);
  if (!type) return { error: `expected a DHCP message type (option 53) of 1-8, got ${typeCode ?? "none"}` };
  const addr = (off: number) => formatAddress(buf.subarray(off, off + 4));
  const hlen = Math.min(buf.readUInt8(2), 16);
  return {
    value: {
      op: op === 1 ? "request" : "reply",
      type,
      xid: buf.readUInt32BE(4),
      secs: buf.readUInt16BE(8),
      broadcast: (buf.readUInt16BE(10) & BROADCAST_FLAG) !== 0,
      ciaddr: addr(12),
      yiaddr: addr(16),
      siaddr: addr(20),
      giaddr: addr(24),
      chaddr: formatMac(buf.subarray(28, 28 + hlen)),
      options: decodeOptions(raw.value),
      raw: raw.value,
    },
  };
}

/** The options area as code → value, concatenating repeated codes; stops at END. */
function readOptions(b: Buffer): { value: Map<number, Buffer> } | { error: string } {
  const out = new Map<number, Buffer>();
  for (let off = 0; off < b.length; ) {
    const code = b.readUInt8(off);
    if (code === Opt.END) break;
    if (code === Opt.PAD) {
      off++;
      continue;
    }
    if (off + 2 > b.length) return { error: `option ${code} at offset ${off} has no length` };
    const len = b.readUInt8(off + 1);
    if (off + 2 + len > b.length) return { error: `option ${code} claims ${len} bytes, ${b.length - off - 2} left` };
    const value = b.subarray(off + 2, off + 2 + len);
    out.set(code, Buffer.concat([out.get(code) ?? Buffer.alloc(0), value]));
    off += 2 + len;
  }
  return { value: out };
}

/** The typed view of the options; malformed ones are left out. */
function decodeOptions(raw: Map<number, Buffer>): DhcpOptions {
  const o: DhcpOptions = {};
  const get = (code: number) => raw.get(code);
  const one = (code: number) => (get(code)?.length === 4 ? formatAddress(get(code) as Buffer) : undefined);
  const many = (code: number) => {
    const v = get(code);
    if (!v || v.length === 0 || v.length % 4) return undefined;
    return Array.from({ length: v.length / 4 }, (_, i) => formatAddress(v.subarray(i * 4, i * 4 + 4)));
  };
  const text = (code: number) => {
    const v = get(code);
    return v ? v.toString("latin1").replace(/\0+$/, "") : undefined;
  };
  const num = (code: number) => (get(code)?.length === 4 ? (get(code) as Buffer).readUInt32BE(0) : undefined);
  set(o, "subnetMask", one(Opt.SUBNET_MASK));
  set(o, "routers", many(Opt.ROUTER));
  set(o, "nameservers", many(Opt.DNS));
  set(o, "hostname", text(Opt.HOSTNAME));
  set(o, "domain", text(Opt.DOMAIN));
  set(o, "requestedIp", one(Opt.REQUESTED_IP));
  set(o, "leaseSeconds", num(Opt.LEASE_TIME));
  set(o, "serverId", one(Opt.SERVER_ID));
  set(o, "parameters", get(Opt.PARAMETERS) && [...(get(Opt.PARAMETERS) as Buffer)]);
  set(o, "message", text(Opt.MESSAGE));
  set(o, "maxSize", get(Opt.MAX_SIZE)?.length === 2 ? (get(Opt.MAX_SIZE) as Buffer).readUInt16BE(0) : undefined);
  set(o, "renewalSeconds", num(Opt.RENEWAL_TIME));
  set(o, "rebindingSeconds", num(Opt.REBINDING_TIME));
  set(o, "clientId", get(Opt.CLIENT_ID) && new Uint8Array(get(Opt.CLIENT_ID) as Buffer));
  return o;
}

/** Sets o[key] only when the value is defined (exactOptionalPropertyTypes-friendly). */
function set<K extends keyof DhcpOptions>(o: DhcpOptions, key: K, value: DhcpOptions[K] | undefined): void {
  if (value !== undefined) o[key] = value;
}

/** The prefix length of a contiguous netmask ("255.255.255.0" → 24), or undefined. */
export function maskLength(mask: string): number | undefined {
  const parsed = parseAddress(mask);
  if ("error" in parsed || parsed.value.family !== 4) return undefined;
  const n = parsed.value.bytes.readUInt32BE(0);
  const len = Math.clz32(~n >>> 0); // leading one bits
  return len === 32 || ((n << len) >>> 0) === 0 ? len : undefined;
}

/** The four bytes of an IPv4 address ("" and invalid text are 0.0.0.0). */
function ipv4Bytes(text: string): Buffer {
  const parsed = parseAddress(text);
  return "value" in parsed && parsed.value.family === 4 ? parsed.value.bytes : Buffer.alloc(4);
}

/** A list of IPv4 addresses as bytes; undefined for none. */
function addresses(list: string[] | undefined): Buffer | undefined {
  return list?.length ? Buffer.concat(list.map(ipv4Bytes)) : undefined;
}

function u32(n: number | undefined): Buffer | undefined {
  if (n === undefined) return undefined;
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/** "aa:bb:…" as bytes (at most 16). */
export function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(":").filter(Boolean).map((h) => Number.parseInt(h, 16)).slice(0, 16));
}

/** Bytes as "aa:bb:…". */
function formatMac(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}
