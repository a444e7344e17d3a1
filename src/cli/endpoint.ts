// Machine API endpoints: unix sockets for now ("unix:///path", "unix:path" or
// a bare path); apid's mTLS endpoints will join them.
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import { CliError, usageError } from "./errors.js";
import { ExitCode } from "./exit-codes.js";

/** The grpc-js target for what the user typed, always "unix:///absolute/path". */
export function parseEndpoint(text: string): string {
  const list = text.split(",").map((s) => s.trim()).filter(Boolean);
  if (list.length !== 1) throw usageError("--endpoints", `expected one endpoint, got ${list.length}`);
  const e = list[0]!;
  const path = e.startsWith("unix://") ? e.slice("unix://".length) : e.startsWith("unix:") ? e.slice("unix:".length) : e;
  const bare = path === e;
  if (path === "" || (bare && !/^\.{0,2}\//.test(path))) {
    throw usageError("--endpoints", `expected a unix socket such as unix:///var/lib/kiln/sandboxes/a/machined.sock, got "${e}"`);
  }
  return `unix://${resolve(path)}`;
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
