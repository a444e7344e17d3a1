// Fan-out: a call with metadata `nodes: a,b` goes to each named node's apid,
// as this apid (an os:impersonator certificate) acting for the caller's role.
// Unary answers are merged into one list of per-node messages, a failed node
// giving a message with metadata.error; streams are interleaved.
import type { Metadata } from "@grpc/grpc-js";
import { ApiError, Code, codeName } from "../grpc/errors.js";
import { maxFanOutNodes, maxRemoteChannels, remoteChannelIdleMs } from "../machinery/api-limits.js";
import { type PeerList, peerTarget } from "../machinery/peers.js";
import { grpcCredentials } from "../pki/tls-client.js";
import { interleave } from "./interleave.js";
import { streamError, tagStreamMessage, tagUnaryResponse, unaryError } from "./node-tag.js";
import type { SelfRoute } from "./self.js";
import type { ClientTls } from "./tls-credentials.js";
import { createUpstream, type ForwardOptions, type Upstream } from "./upstream.js";

/** Metadata key naming the nodes a call is for. */
export const nodesHeader = "nodes";

/** Why a machine without an impersonator certificate (a worker, whose certificate a control plane issued) reaches no other node. */
export const noClientCertificate =
  "this machine has no apid client certificate to reach other nodes with (a worker's apid, certified by a control plane, calls no other node): send the call through a control-plane node (kilnctl -e CONTROL_PLANE -n NODE)";

/** Clients for other machines' apids (its peers only), one channel per node, closed when idle. */
export interface Remotes {
  /** The nodes calls may be forwarded to (machine.api.peers). */
  peers: PeerList;
  get(node: string): Upstream;
  /** The targets with an open channel, least recently used first. */
  open(): string[];
  close(): void;
}

/** The nodes named in `nodes` metadata (comma-separated, possibly repeated), blanks and repeats (the same target) dropped. */
export function nodesOf(metadata: Metadata): string[] {
  const names = metadata.get(nodesHeader).flatMap((v) => String(v).split(","));
  const targets = new Set<string>();
  return names
    .map((n) => n.trim())
    .filter((n) => {
      if (n === "" || targets.has(targetOf(n))) return false;
      targets.add(targetOf(n));
      return true;
    });
}

/** Refuses a call naming more than `maxFanOutNodes` nodes, or any node that is not one of `peers`, before any is reached. */
export function checkFanOut(nodes: string[], peers: PeerList): void {
  if (nodes.length > maxFanOutNodes) {
    throw new ApiError(Code.INVALID_ARGUMENT, `${nodesHeader} names ${nodes.length} nodes; the limit is ${maxFanOutNodes} nodes a call`);
  }
  for (const node of nodes) checkPeer(node, peers);
}

function checkPeer(node: string, peers: PeerList): string {
  const shown = JSON.stringify(node.length > 80 ? `${node.slice(0, 80)}…` : node);
  const target = peerTarget(node);
  if (!target) throw new ApiError(Code.INVALID_ARGUMENT, `${nodesHeader}: ${shown} is not a node: expected an address or a host name, with a port or without`);
  if (!peers.allows(target)) {
    throw new ApiError(Code.PERMISSION_DENIED, `${nodesHeader}: ${shown} is not a peer of this machine (allowed: ${peers.describe()}); an admin may add it to machine.api.peers`);
  }
  return target;
}

/** A gRPC target for a node: "host", "host:port", "v6" or "[v6]:port"; the port defaults to apid's. */
export function targetOf(node: string): string {
  return peerTarget(node) ?? node;
}

/** How many channels Remotes keeps and for how long (tests shorten them). */
export interface RemotesLimits {
  maxChannels: number;
  idleMs: number;
}

/** One cached channel: its calls under way, and the timer that closes it once idle. */
interface Channel {
  upstream: Upstream;
  active: number;
  idle?: NodeJS.Timeout;
}

/**
 * Remotes that authenticate with `tls` and reach `peers` only; a node that is
 * this machine goes through `self` when given. Without `tls`, every other node
 * fails with FAILED_PRECONDITION.
 */
export function createRemotes(
  tls: ClientTls | undefined,
  peers: PeerList,
  limits: RemotesLimits = { maxChannels: maxRemoteChannels, idleMs: remoteChannelIdleMs },
  self?: SelfRoute,
): Remotes {
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  const channels = new Map<string, Channel>();
  const identity = tls && { ca: tls.ca.toString(), crt: tls.cert.toString(), key: tls.key.toString() };
  const drop = (target: string, c: Channel) => {
    clearTimeout(c.idle);
    c.upstream.close();
    channels.delete(target);
  };
  const release = (target: string, c: Channel) => {
    c.active--;
    if (c.active === 0 && channels.get(target) === c) c.idle = setTimeout(() => drop(target, c), limits.idleMs).unref();
  };
  const open = (target: string): Channel => {
    const cached = channels.get(target);
    if (cached) channels.delete(target);
    else makeRoom(channels, limits.maxChannels, drop);
    const c = cached ?? { upstream: remoteUpstream(target, identity!), active: 0 };
    channels.set(target, c);
    return c;
  };
  return {
    peers,
    get: (node) => {
      const target = checkPeer(node, peers);
      if (self?.isSelf(target)) return self.upstream;
      if (!identity) throw new ApiError(Code.FAILED_PRECONDITION, noClientCertificate);
      return counted(() => {
        const c = open(target);
        clearTimeout(c.idle);
        c.active++;
        return { upstream: c.upstream, done: () => release(target, c) };
      });
    },
    open: () => [...channels.keys()],
    close: () => {
      for (const [target, c] of channels) drop(target, c);
    },
  };
}

/** Closes the least recently used idle channel when the cache is full; refuses when every channel has a call under way. */
function makeRoom(channels: Map<string, Channel>, max: number, drop: (target: string, c: Channel) => void): void {
  if (channels.size < max) return;
  const idle = [...channels].find(([, c]) => c.active === 0);
  if (!idle) throw new ApiError(Code.RESOURCE_EXHAUSTED, `apid has calls under way on all ${max} channels to other nodes it may keep open; try again later`);
  drop(...idle);
}

/** An Upstream whose every call takes a channel from `acquire` and hands it back when the call ends. */
function counted(acquire: () => { upstream: Upstream; done: () => void }): Upstream {
  return {
    unary: async (path, request, o) => {
      const { upstream, done } = acquire();
      try {
        return await upstream.unary(path, request, o);
      } finally {
        done();
      }
    },
    stream: async function* (path, request, o) {
      const { upstream, done } = acquire();
      try {
        yield* upstream.stream(path, request, o);
      } finally {
        done();
      }
    },
    clientStream: async (path, requests, o) => {
      const { upstream, done } = acquire();
      try {
        return await upstream.clientStream(path, requests, o);
      } finally {
        done();
      }
    },
    close: () => {},
  };
}

/** How a node's failure reads in its message: "UNAVAILABLE: connection refused". */
function failureText(err: unknown): string {
  const e = ApiError.from(err);
  return `${codeName(e.code)}: ${e.message}`;
}

/** One unary call on every node, answers merged in the order the nodes were named. */
export async function fanOutUnary(remotes: Remotes, nodes: string[], path: string, request: Buffer, o: ForwardOptions): Promise<Buffer> {
  const one = async (node: string) => {
    try {
      return tagUnaryResponse(await remotes.get(node).unary(path, request, o), node);
    } catch (err) {
      return unaryError(node, failureText(err));
    }
  };
  return Buffer.concat(await Promise.all(nodes.map(one)));
}

/** One stream from every node, interleaved; a node that fails adds one message with its error. */
export function fanOutStream(remotes: Remotes, nodes: string[], path: string, request: Buffer, o: ForwardOptions): AsyncIterable<Buffer> {
  return interleave(nodes.map((node) => nodeStream(remotes, node, path, request, o)));
}

/** A node's stream, each message tagged with the node. */
async function* nodeStream(remotes: Remotes, node: string, path: string, request: Buffer, o: ForwardOptions): AsyncIterable<Buffer> {
  try {
    for await (const m of remotes.get(node).stream(path, request, o)) yield tagStreamMessage(m, node);
  } catch (err) {
    if (!o.signal.aborted) yield streamError(node, failureText(err));
  }
}

/**
 * A client stream to the one node named: its bytes cannot be sent to several
 * nodes at once without holding them all. The answer is tagged like a unary one.
 */
export async function forwardClientStream(remotes: Remotes, nodes: string[], path: string, requests: AsyncIterable<Buffer>, o: ForwardOptions): Promise<Buffer> {
  const [node] = nodes;
  if (nodes.length !== 1 || node === undefined) {
    throw new ApiError(Code.INVALID_ARGUMENT, `${path} streams its request to one node; ${nodesHeader} names ${nodes.length}: name one node and call once per node`);
  }
  return tagUnaryResponse(await remotes.get(node).clientStream(path, requests, o), node);
}

/**
 * A channel to another node's apid at `target` ("host:port"), verified
 * against the machine CA and the host dialled, over TLS 1.3 as kilnctl
 * dials: an IP address is checked against the certificate but never sent
 * as the server name (RFC 6066; Node warns, DEP0123).
 */
function remoteUpstream(target: string, id: { ca: string; crt: string; key: string }): Upstream {
  const host = target.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
  const { credentials, options } = grpcCredentials({ host, trust: { t: "ca", ca: id.ca }, identity: { crt: id.crt, key: id.key } });
  return createUpstream(target, credentials, options);
}
