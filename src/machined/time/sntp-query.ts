// One SNTP exchange with one server over node:dgram: resolve the name, send a
// request with a random nonce, take the first reply that echoes it, and
// measure it. Bounded by a timeout; the socket is always closed.
import { randomBytes } from "node:crypto";
import { createSocket, type RemoteInfo } from "node:dgram";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { decodeReply, encodeRequest, NTP_PORT } from "./ntp-packet.js";
import { type Sample, sampleOf } from "./sample.js";

export interface QueryOptions {
  /** This machine's clock, ms since the epoch (sub-ms precision welcome). */
  now(): number;
  /** How long to wait for the name and then the reply. */
  timeoutMs: number;
  /** The server's port (123; tests use their own). */
  port?: number;
  /** Name resolution (default: the system's, as getaddrinfo). */
  resolve?: (host: string) => Promise<string>;
}

export type QueryResult = { value: Sample } | { error: string };

/** Asks `server` (a name or an address) for its time once. */
export async function querySntp(server: string, o: QueryOptions): Promise<QueryResult> {
  const address = await withTimeout(resolveHost(server, o), o.timeoutMs).catch((err: Error) => err);
  if (address instanceof Error) return { error: `resolving ${server}: ${address.message}` };
  return exchange(server, address, o);
}

/** The address to ask: `host` itself when it is one, else its first address. */
async function resolveHost(host: string, o: QueryOptions): Promise<string> {
  if (isIP(host)) return host;
  return o.resolve ? o.resolve(host) : (await lookup(host)).address;
}

/** Sends one request to `address` and waits for its reply. */
function exchange(server: string, address: string, o: QueryOptions): Promise<QueryResult> {
  const port = o.port ?? NTP_PORT;
  const nonce = randomBytes(8);
  const socket = createSocket(isIP(address) === 6 ? "udp6" : "udp4");
  return new Promise<QueryResult>((resolve) => {
    let sentMs = 0;
    let finished = false;
    // The first outcome wins: a late error or reply after the timeout is dropped.
    const done = (r: QueryResult) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.close();
      resolve(r);
    };
    const timer = setTimeout(() => done({ error: `no answer from ${server} (${address}:${port}) within ${o.timeoutMs / 1000} s` }), o.timeoutMs);
    socket.on("error", (err) => done({ error: `asking ${server} (${address}:${port}): ${err.message}` }));
    socket.on("message", (msg: Buffer, from: RemoteInfo) => {
      const receivedMs = o.now();
      if (from.port !== port) return;
      const reply = decodeReply(msg);
      if ("error" in reply) return done({ error: `${server}: ${reply.error}` });
      // A reply that does not echo our nonce is not ours: keep waiting for the right one.
      if (!reply.value.origin.equals(nonce)) return;
      const sample = sampleOf(server, address, nonce, reply.value, { sentMs, receivedMs });
      done("error" in sample ? { error: `${server}: ${sample.error}` } : sample);
    });
    sentMs = o.now();
    socket.send(encodeRequest(nonce), port, address);
  });
}

/** `p`, or a rejection after `ms`. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
