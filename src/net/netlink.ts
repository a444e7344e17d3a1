// Netlink messages as bytes: nlmsghdr, rtattr TLVs and the rtnetlink structs
// (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h).
// Netlink is host byte order; kiln's architectures (x64, arm64) are little-endian.
import { constants } from "node:os";

export const NETLINK_ROUTE = 0;

/** Control message types. */
export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3, OVERRUN: 4 } as const;

/** nlmsghdr flags: requests, dumps, creation, and NLMSG_ERROR's own. */
export const NLM_F = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  DUMP: 0x300,
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  CAPPED: 0x100,
} as const;

/** rtnetlink message types. */
export const RTM = {
  NEWLINK: 16,
  GETLINK: 18,
  SETLINK: 19,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
} as const;

export const NLMSG_HDRLEN = 16;
const RTA_HDRLEN = 4;

/** One netlink message; `payload` is everything after the 16-byte header. */
export interface Message {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Buffer;
}

/** One rtattr: its type and raw value. */
export interface Attr {
  type: number;
  data: Uint8Array;
}

/** Rounds up to netlink's 4-byte alignment (NLMSG_ALIGN, RTA_ALIGN). */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** A message with its header; nlmsg_len counts the payload, not trailing padding. */
export function encodeMessage(msg: Omit<Message, "payload"> & { payload: Uint8Array }): Buffer {
  const len = NLMSG_HDRLEN + msg.payload.length;
  const out = Buffer.alloc(align4(len));
  out.writeUInt32LE(len, 0);
  out.writeUInt16LE(msg.type, 4);
  out.writeUInt16LE(msg.flags, 6);
  out.writeUInt32LE(msg.seq, 8);
  out.writeUInt32LE(msg.pid, 12);
  out.set(msg.payload, NLMSG_HDRLEN);
  return out;
}

/** Every message in one datagram, or an error naming the bad offset. */
export function decodeMessages(buf: Buffer): { value: Message[] } | { error: string } {
  const out: Message[] = [];
  for (let off = 0; off + NLMSG_HDRLEN <= buf.length; ) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) {
      return { error: `netlink message at offset ${off} claims ${len} bytes, ${buf.length - off} left` };
    }
    const [type, flags] = [buf.readUInt16LE(off + 4), buf.readUInt16LE(off + 6)];
    const [seq, pid] = [buf.readUInt32LE(off + 8), buf.readUInt32LE(off + 12)];
    out.push({ type, flags, seq, pid, payload: buf.subarray(off + NLMSG_HDRLEN, off + len) });
    off += align4(len);
  }
  return { value: out };
}

/** rtattrs back to back, each padded to 4 bytes. */
export function encodeAttrs(attrs: Attr[]): Buffer {
  const parts = attrs.map((a) => {
    const out = Buffer.alloc(align4(RTA_HDRLEN + a.data.length));
    out.writeUInt16LE(RTA_HDRLEN + a.data.length, 0);
    out.writeUInt16LE(a.type, 2);
    out.set(a.data, RTA_HDRLEN);
    return out;
  });
  return Buffer.concat(parts);
}

/** The rtattrs in `buf`; a truncated one ends the list. Nested-flag bits are masked off. */
export function decodeAttrs(buf: Buffer): Attr[] {
  const out: Attr[] = [];
  for (let off = 0; off + RTA_HDRLEN <= buf.length; ) {
    const len = buf.readUInt16LE(off);
    if (len < RTA_HDRLEN || off + len > buf.length) break;
    out.push({ type: buf.readUInt16LE(off + 2) & 0x3fff, data: buf.subarray(off + RTA_HDRLEN, off + len) });
    off += align4(len);
  }
  return out;
}

/** A u32 attribute. */
export function u32Attr(type: number, value: number): Attr {
  const data = Buffer.alloc(4);
  data.writeUInt32LE(value >>> 0);
  return { type, data };
}

/** A NUL-terminated string attribute. */
export function stringAttr(type: number, value: string): Attr {
  return { type, data: Buffer.from(`${value}\0`) };
}

/** An attribute's value as a string, without its NUL. */
export function attrString(data: Uint8Array): string {
  const end = data.indexOf(0);
  return Buffer.from(data.subarray(0, end < 0 ? data.length : end)).toString();
}

/** The errno of an NLMSG_ERROR (0 is an ACK), or of a DONE that ended a dump early. */
export function errnoOf(msg: Message): number {
  if (msg.type !== NLMSG.ERROR && msg.type !== NLMSG.DONE) return 0;
  return msg.payload.length >= 4 ? -msg.payload.readInt32LE(0) : 0;
}

/** struct ifinfomsg: family, type, index, flags, change (16 bytes). */
export interface IfInfo {
  family: number;
  type: number;
  index: number;
  flags: number;
  change: number;
}

/** Encodes a struct ifinfomsg. */
export function encodeIfInfo(m: IfInfo): Buffer {
  const out = Buffer.alloc(16);
  out.writeUInt8(m.family, 0);
  out.writeUInt16LE(m.type, 2);
  out.writeInt32LE(m.index, 4);
  out.writeUInt32LE(m.flags >>> 0, 8);
  out.writeUInt32LE(m.change >>> 0, 12);
  return out;
}

/** Decodes a struct ifinfomsg from the start of a payload. */
export function decodeIfInfo(b: Buffer): IfInfo {
  return {
    family: b.readUInt8(0),
    type: b.readUInt16LE(2),
    index: b.readInt32LE(4),
    flags: b.readUInt32LE(8),
    change: b.readUInt32LE(12),
  };
}

/** struct ifaddrmsg: family, prefixlen, flags, scope, index (8 bytes). */
export interface IfAddr {
  family: number;
  prefixLength: number;
  flags: number;
  scope: number;
  index: number;
}

/** Encodes a struct ifaddrmsg. */
export function encodeIfAddr(m: IfAddr): Buffer {
  const out = Buffer.from([m.family, m.prefixLength, m.flags, m.scope, 0, 0, 0, 0]);
  out.writeUInt32LE(m.index, 4);
  return out;
}

/** Decodes a struct ifaddrmsg. */
export function decodeIfAddr(b: Buffer): IfAddr {
  const [family = 0, prefixLength = 0, flags = 0, scope = 0] = b.subarray(0, 4);
  return { family, prefixLength, flags, scope, index: b.readUInt32LE(4) };
}

/** struct rtmsg (12 bytes). */
export interface RtMsg {
  family: number;
  dstLength: number;
  srcLength: number;
  tos: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  flags: number;
}

/** Encodes a struct rtmsg. */
export function encodeRtMsg(m: RtMsg): Buffer {
  const head = [m.family, m.dstLength, m.srcLength, m.tos, m.table, m.protocol, m.scope, m.type];
  const out = Buffer.alloc(12);
  out.set(head, 0);
  out.writeUInt32LE(m.flags >>> 0, 8);
  return out;
}

/** Decodes a struct rtmsg. */
export function decodeRtMsg(b: Buffer): RtMsg {
  const [family = 0, dstLength = 0, srcLength = 0, tos = 0, table = 0, protocol = 0, scope = 0, type = 0] =
    b.subarray(0, 8);
  return { family, dstLength, srcLength, tos, table, protocol, scope, type, flags: b.readUInt32LE(8) };
}

/** A failed netlink request: what we were doing, and the kernel's errno. */
export class NetlinkError extends Error {
  override name = "NetlinkError";
  readonly code: string;
  constructor(
    readonly operation: string,
    readonly errno: number,
    options?: { cause?: unknown },
  ) {
    const code = errnoCode(errno);
    super(`${operation}: ${code}`, options);
    this.code = code;
  }
}

/** The errno name for a number ("ENODEV"), as libc.ts's errnoName without loading libc. */
function errnoCode(errno: number): string {
  const hit = Object.entries(constants.errno).find(([, v]) => v === errno);
  return hit ? hit[0] : `E${errno}`;
}
