// Machine API endpoints: apid over TCP ("10.0.0.2", "node-1:50000",
// "[fd00::2]:50000"; port 50000 when omitted) or machined's unix socket
// ("unix:///path", "unix:path" or a bare path starting with /, ./ or ../).
import { isIP } from "node:net";
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { apidPort } from "../machinery/apid.js";
import { CliError, usageError } from "./errors.js";
import { ExitCode } from "./exit-codes.js";

/** An endpoint: `text` is how messages name it, `target` what grpc-js dials. */
export type Endpoint =
  | { t: "unix"; path: string; text: string; target: string }
  | { t: "tcp"; host: string; port: number; text: string; target: string };

const dnsName = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** The endpoints in a comma-separated list; a unix socket must be the only one. */
export function parseEndpoints(text: string, flag = "--endpoints"): Endpoint[] {
  const list = text.split(",").map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw usageError(flag, "expected an endpoint such as 10.0.0.2 or unix:///path/to/machined.sock, got nothing");
  const endpoints = list.map((e) => toEndpoint(e, flag));
  if (endpoints.length > 1 && endpoints.some((e) => e.t === "unix")) throw usageError(flag, `expected one endpoint, got ${endpoints.length}`);
  return endpoints;
}

/** One endpoint's grpc-js target ("unix:///absolute/path" or "dns:host:port"). */
export function parseEndpoint(text: string, flag = "--endpoints"): string {
  const list = text.split(",").map((s) => s.trim()).filter(Boolean);
  if (list.length !== 1) throw usageError(flag, `expected one endpoint, got ${list.length}`);
  return toEndpoint(list[0]!, flag).target;
}

/** One endpoint as typed. */
function toEndpoint(e: string, flag: string): Endpoint {
  const path = e.startsWith("unix://") ? e.slice("unix://".length) : e.startsWith("unix:") ? e.slice("unix:".length) : undefined;
  if (path !== undefined || /^\.{0,2}\//.test(e)) return unixEndpoint(path ?? e, e, flag);
  const hostPort = splitHostPort(e);
  if (hostPort) return tcpEndpoint(hostPort.host, hostPort.port);
  throw usageError(flag, `expected HOST[:PORT] (port ${apidPort} when omitted) or a unix socket such as unix:///var/lib/kiln/sandboxes/a/machined.sock, got "${e}"`);
}

/** A unix socket endpoint for `path`, made absolute. */
function unixEndpoint(path: string, typed: string, flag: string): Endpoint {
  if (path === "") throw usageError(flag, `expected a unix socket path after "unix:", got "${typed}"`);
  const target = `unix://${resolve(path)}`;
  return { t: "unix", path: resolve(path), text: target, target };
}

/** A TCP endpoint; IPv6 addresses in brackets. */
export function tcpEndpoint(host: string, port = apidPort): Endpoint & { t: "tcp" } {
  const text = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  return { t: "tcp", host, port, text, target: `dns:${text}` };
}

/** Host and port of "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 address; undefined if none of those. */
export function splitHostPort(text: string): { host: string; port: number } | undefined {
  if (isIP(text) === 6) return { host: text, port: apidPort };
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = m?.[3] === undefined ? apidPort : Number(m[3]);
  if (!host || port < 1 || port > 65535) return undefined;
  const ok = m?.[1] !== undefined ? isIP(host) === 6 : isIP(host) === 4 || dnsName.test(host);
  return ok ? { host, port } : undefined;
}

/** Fails clearly when a unix endpoint's socket is missing or not a socket. */
export async function checkSocket(endpoint: string): Promise<void> {
  const path = endpoint.slice("unix://".length);
  const st = await stat(path).catch((err: NodeJS.ErrnoException) => err);
  if (st instanceof Error) {
    const reason = st.code === "ENOENT" ? "no such socket" : st.code === "EACCES" ? "permission denied" : st.message;
    throw new CliError(`connecting to ${endpoint}`, reason, ExitCode.unavailable, { cause: st });
  }
  if (!st.isSocket()) throw new CliError(`connecting to ${endpoint}`, "not a socket", ExitCode.unavailable);
}
