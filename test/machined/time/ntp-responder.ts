// A tiny NTP server for tests, on 127.0.0.1 and an ephemeral port: it answers
// each request from its own clock, or with what `reply` makes of it.
import { createSocket, type RemoteInfo } from "node:dgram";
import { NTP_PACKET_SIZE, writeTimestamp } from "../../../src/machined/time/ntp-packet.js";

export interface ResponderOptions {
  /** The server's clock, ms since the epoch. */
  now(): number;
  stratum?: number;
  leap?: number;
  /** How long the server holds a request between receiving and answering it, ms. */
  holdMs?: number;
  /** Rewrites the reply before it leaves (e.g. to corrupt it); null sends nothing. */
  mangle?: (reply: Buffer, request: Buffer) => Buffer | null;
}

export interface Responder {
  port: number;
  /** Requests received so far. */
  requests: number;
  close(): Promise<void>;
}

/** A reply to `request` at server times `receiveMs` and `transmitMs`. */
export function replyTo(request: Buffer, o: { receiveMs: number; transmitMs: number; stratum?: number; leap?: number }): Buffer {
  const reply = Buffer.alloc(NTP_PACKET_SIZE);
  reply[0] = ((o.leap ?? 0) << 6) | (4 << 3) | 4;
  reply[1] = o.stratum ?? 2;
  reply[2] = 6;
  reply[3] = 0xec; // precision 2^-20
  reply.writeUInt32BE(0x00000100, 4); // root delay ~3.9 ms
  reply.writeUInt32BE(0x00000080, 8); // root dispersion ~1.9 ms
  reply.write("LOCL", 12, "latin1");
  writeTimestamp(reply, 16, o.receiveMs - 10_000);
  request.copy(reply, 24, 40, 48); // origin = the client's transmit timestamp
  writeTimestamp(reply, 32, o.receiveMs);
  writeTimestamp(reply, 40, o.transmitMs);
  return reply;
}

/** Starts a responder; close it in the test's teardown. */
export async function startResponder(o: ResponderOptions): Promise<Responder> {
  const socket = createSocket("udp4");
  const r: Responder = { port: 0, requests: 0, close: () => new Promise((resolve) => socket.close(() => resolve())) };
  socket.on("message", (request: Buffer, from: RemoteInfo) => {
    r.requests++;
    const receiveMs = o.now();
    setTimeout(() => {
      const reply = replyTo(request, { receiveMs, transmitMs: o.now(), stratum: o.stratum, leap: o.leap });
      const out = o.mangle ? o.mangle(reply, request) : reply;
      if (out) socket.send(out, from.port, from.address);
    }, o.holdMs ?? 0);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  r.port = socket.address().port;
  return r;
}
