// The SNTPv4 packet (RFC 4330 §4): 48 bytes, big-endian. A client request
// carries a random transmit timestamp as a nonce, which the server echoes as
// its origin timestamp; a reply is decoded into milliseconds since the epoch.

/** Size of an NTP packet without extensions. */
export const NTP_PACKET_SIZE = 48;
/** The NTP port. */
export const NTP_PORT = 123;

/** Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
const NTP_TO_UNIX_S = 2_208_988_800;
/** One NTP era: 2^32 seconds (era 0 ends on 2036-02-07). */
const ERA_S = 2 ** 32;

/** Header modes we send and accept. */
export const MODE = { CLIENT: 3, SERVER: 4 } as const;
/** Leap indicator 3: the server's clock is not synchronized. */
export const LEAP_ALARM = 3;

/** A decoded server reply; times in ms since the Unix epoch, delays in ms. */
export interface NtpReply {
  leap: number;
  version: number;
  mode: number;
  /** 0 is a kiss-o'-death (see `kiss`), 1 a primary server, up to 15. */
  stratum: number;
  /** Round trip to the server's reference (root delay) and its error (root dispersion), ms. */
  rootDelayMs: number;
  rootDispersionMs: number;
  /** With stratum 0, the kiss code ("DENY", "RSTR", "RATE"…); else "". */
  kiss: string;
  /** The origin timestamp as raw 8 bytes (our nonce echoed back). */
  origin: Buffer;
  /** When the request arrived (T2) and the reply left (T3), server time. */
  receiveMs: number;
  transmitMs: number;
  /** Whether the transmit timestamp was all zeros (a reply to refuse). */
  transmitZero: boolean;
}

/** A client request (LI 0, version 4, mode 3) whose transmit timestamp is `nonce` (8 bytes). */
export function encodeRequest(nonce: Uint8Array): Buffer {
  if (nonce.byteLength !== 8) throw new Error(`an NTP nonce is 8 bytes, got ${nonce.byteLength}`);
  const packet = Buffer.alloc(NTP_PACKET_SIZE);
  packet[0] = (0 << 6) | (4 << 3) | MODE.CLIENT;
  packet.set(nonce, 40);
  return packet;
}

/** Decodes a reply, or says why the bytes are not one. */
export function decodeReply(buf: Buffer): { value: NtpReply } | { error: string } {
  if (buf.length < NTP_PACKET_SIZE) return { error: `an NTP reply is at least ${NTP_PACKET_SIZE} bytes, got ${buf.length}` };
  const head = buf[0] ?? 0;
  const stratum = buf[1] ?? 0;
  return {
    value: {
      leap: head >> 6,
      version: (head >> 3) & 7,
      mode: head & 7,
      stratum,
      rootDelayMs: shortMs(buf, 4),
      rootDispersionMs: shortMs(buf, 8),
      kiss: stratum === 0 ? buf.subarray(12, 16).toString("latin1").replace(/\0+$/, "") : "",
      origin: Buffer.from(buf.subarray(24, 32)),
      receiveMs: timestampMs(buf, 32),
      transmitMs: timestampMs(buf, 40),
      transmitZero: buf.readBigUInt64BE(40) === 0n,
    },
  };
}

/** An NTP short format (16.16 seconds) at `at`, in ms. */
function shortMs(buf: Buffer, at: number): number {
  return (buf.readUInt32BE(at) / 65536) * 1000;
}

/** An NTP timestamp (32.32 seconds since 1900) at `at`, in ms since the Unix epoch. */
export function timestampMs(buf: Buffer, at: number): number {
  const seconds = buf.readUInt32BE(at);
  const fraction = buf.readUInt32BE(at + 4);
  // RFC 4330 §3: with the top bit clear the time is in era 1 (2036-2104).
  const era = seconds & 0x80000000 ? 0 : ERA_S;
  return (seconds + era - NTP_TO_UNIX_S) * 1000 + (fraction / ERA_S) * 1000;
}

/** Writes `ms` since the Unix epoch as an NTP timestamp at `at` (for servers in tests, and the era rule's inverse). */
export function writeTimestamp(buf: Buffer, at: number, ms: number): void {
  const total = ms / 1000 + NTP_TO_UNIX_S;
  const seconds = Math.floor(total);
  buf.writeUInt32BE(seconds % ERA_S, at);
  buf.writeUInt32BE(Math.min(ERA_S - 1, Math.round((total - seconds) * ERA_S)), at + 4);
}
