// Fan-out: a call with metadata `nodes: a,b` goes to each named node's apid,
// as this apid (an os:impersonator certificate) acting for the caller's role.
// Unary answers are merged into one list of per-node messages, a failed node
// giving a message with metadata.error; streams are interleaved.
import { credentials, type Metadata } from "@grpc/grpc-js";
import { ApiError, Code, codeName } from "../grpc/errors.js";
import { apidPort } from "../machinery/apid.js";
import { interleave } from "./interleave.js";
import { streamError, tagStreamMessage, tagUnaryResponse, unaryError } from "./node-tag.js";
import type { ClientTls } from "./tls-credentials.js";
import { createUpstream, type ForwardOptions, type Upstream } from "./upstream.js";

/** Metadata key naming the nodes a call is for. */
export const nodesHeader = "nodes";

/** Clients for other machines' apids, one channel per node. */
export interface Remotes {
  get(node: string): Upstream;
  close(): void;
}

/** The nodes named in `nodes` metadata (comma-separated, possibly repeated), blanks and repeats dropped. */
export function nodesOf(metadata: Metadata): string[] {
  const names = metadata.get(nodesHeader).flatMap((v) => String(v).split(","));
  return [...new Set(names.map((n) => n.trim()).filter((n) => n !== ""))];
}

/** A gRPC target for a node: "host", "host:port", "v6" or "[v6]:port"; the port defaults to apid's. */
export function targetOf(node: string): string {
  if (/^\[.*\](:\d+)?$/.test(node)) return node.includes("]:") ? node : `${node}:${apidPort}`;
  if (node.includes(":") && node.indexOf(":") !== node.lastIndexOf(":")) return `[${node}]:${apidPort}`;
  return /:\d+$/.test(node) ? node : `${node}:${apidPort}`;
}

/** Remotes that authenticate with `tls`; without it, every node fails with FAILED_PRECONDITION. */
export function createRemotes(tls: ClientTls | undefined): Remotes {
  const channels = new Map<string, Upstream>();
  const creds = tls && credentials.createSsl(tls.ca, tls.key, tls.cert);
  return {
    get: (node) => {
      if (!creds) throw new ApiError(Code.FAILED_PRECONDITION, "this machine has no apid client certificate to reach other nodes with");
      const target = targetOf(node);
      if (!channels.has(target)) channels.set(target, createUpstream(target, creds));
      return channels.get(target)!;
    },
    close: () => {
      for (const c of channels.values()) c.close();
      channels.clear();
    },
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
