// A small Kubernetes API client over node:https: get, list, idempotent
// create, put, and watch. Not @kubernetes/client-node: machined is PID 1 and
// that library bundles to 4 MB (and throws at load when bundled with esbuild).
// Every request has a timeout; every error names the method, the path, the
// status and the API's own Status.message.
import { Agent, request } from "node:https";
import type { IncomingMessage } from "node:http";

/** How to reach and authenticate to an API server. */
export interface KubeConnection {
  /** e.g. "https://127.0.0.1:6443" (no trailing path). */
  server: string;
  /** The cluster CA, PEM. */
  ca: string;
  /** A client certificate and its key (PEM), or a bearer token. */
  cert?: string;
  key?: string;
  token?: string;
  /** Per request; default 10 s. For a watch, the time until the response starts. */
  timeoutMs?: number;
}

/** The metadata kiln reads and writes. */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
}

/** Any object the API returns. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

/** A list of `T`, with the resourceVersion to watch from. */
export interface KubeList<T> {
  metadata: { resourceVersion?: string };
  items: T[];
}

/** One watch event. ERROR carries a Status (410 Gone: list again). */
export type WatchEvent<T> = { type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK"; object: T } | { type: "ERROR"; object: KubeStatus };

/** The API's Status object, as errors return it. */
export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
}

/** A failed request: which one, its HTTP status (0 when none came), and the API's message. */
export class KubeApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly apiMessage: string,
    options?: { cause?: unknown },
  ) {
    super(`${method} ${path}: ${status ? `${status} ` : ""}${apiMessage}`, options);
    this.name = "KubeApiError";
  }
}

/** What a create did: made the object, or found it there already (409). */
export type Created<T> = { t: "created"; object: T } | { t: "exists" };

export interface KubeClient {
  /** GET `path`; a 404 throws (see `getOptional`). */
  get<T>(path: string): Promise<T>;
  /** GET of a plain-text endpoint (/readyz, /livez): its body; a status not 2xx throws naming it. */
  text(path: string): Promise<string>;
  /** GET `path`, or undefined when it is not found (404). */
  getOptional<T>(path: string): Promise<T | undefined>;
  /** GET a list at `path`. */
  list<T>(path: string): Promise<KubeList<T>>;
  /** POST `body` to `path`; an object that exists already (409) is not an error. */
  create<T>(path: string, body: T): Promise<Created<T>>;
  /** PUT `body` at `path`. */
  put<T>(path: string, body: T): Promise<T>;
  /** POST `body` to `path` and return the response (any non-2xx throws; etcd's JSON gateway is called this way too). */
  post<R>(path: string, body: unknown): Promise<R>;
  /** Events of `path` from `resourceVersion` until the server ends the watch or `signal` aborts. */
  watch<T>(path: string, resourceVersion: string | undefined, signal?: AbortSignal): AsyncIterable<WatchEvent<T>>;
  /** Closes idle connections. */
  close(): void;
}

const defaultTimeoutMs = 10_000;
/** How long the server holds a watch open before we start another. */
const watchSeconds = 300;

/** A client for `conn`. */
export function createKubeClient(conn: KubeConnection): KubeClient {
  const agent = new Agent({ keepAlive: true, ca: conn.ca, cert: conn.cert, key: conn.key });
  const timeoutMs = conn.timeoutMs ?? defaultTimeoutMs;
  const call = (method: string, path: string, body?: unknown) => send(conn, agent, timeoutMs, method, path, body);
  return {
    get: async <T>(path: string) => (await call("GET", path)) as T,
    text: (path: string) => sendText(conn, agent, timeoutMs, path),
    getOptional: async <T>(path: string) => {
      try {
        return (await call("GET", path)) as T;
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 404) return undefined;
        throw err;
      }
    },
    list: async <T>(path: string) => (await call("GET", path)) as KubeList<T>,
    create: async <T>(path: string, body: T): Promise<Created<T>> => {
      try {
        return { t: "created", object: (await call("POST", path, body)) as T };
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 409) return { t: "exists" };
        throw err;
      }
    },
    put: async <T>(path: string, body: T) => (await call("PUT", path, body)) as T,
    post: async <R>(path: string, body: unknown) => (await call("POST", path, body)) as R,
    watch: <T>(path: string, rv: string | undefined, signal?: AbortSignal) => watch<T>(conn, agent, timeoutMs, path, rv, signal),
    close: () => agent.destroy(),
  };
}

/** Sends one request and resolves with its parsed JSON body; throws a KubeApiError otherwise. */
async function send(conn: KubeConnection, agent: Agent, timeoutMs: number, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await open(conn, agent, timeoutMs, method, path, body);
  const text = await readAll(res, method, path);
  const status = res.statusCode ?? 0;
  if (status < 200 || status >= 300) throw new KubeApiError(method, path, status, statusMessage(text));
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new KubeApiError(method, path, status, "the response is not JSON", { cause: err });
  }
}

/** GET of `path`, resolving with its body as text when the status is 2xx. */
async function sendText(conn: KubeConnection, agent: Agent, timeoutMs: number, path: string): Promise<string> {
  const res = await open(conn, agent, timeoutMs, "GET", path);
  const text = await readAll(res, "GET", path);
  const status = res.statusCode ?? 0;
  if (status < 200 || status >= 300) throw new KubeApiError("GET", path, status, statusMessage(text));
  return text;
}

/** Starts a request and resolves when its response headers came (within `timeoutMs`). */
function open(conn: KubeConnection, agent: Agent, timeoutMs: number, method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<IncomingMessage> {
  const url = new URL(path, conn.server);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { accept: "application/json" };
  if (conn.token) headers.authorization = `Bearer ${conn.token}`;
  if (payload !== undefined) headers["content-type"] = "application/json";
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers, signal }, resolve);
    const timer = setTimeout(() => req.destroy(new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
    req.on("response", () => clearTimeout(timer));
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(new KubeApiError(method, path, 0, err.message, { cause: err }));
    });
    req.end(payload);
  });
}

/** The whole body of `res`, as text; a body that stops coming for 30 s is an error. */
function readAll(res: IncomingMessage, method: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.setTimeout(30_000, () => res.destroy(new Error("the response body stalled")));
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", (err) => reject(new KubeApiError(method, path, res.statusCode ?? 0, err.message, { cause: err })));
  });
}

/** The API's Status.message in an error body, else the body itself (shortened). */
export function statusMessage(text: string): string {
  try {
    const s = JSON.parse(text) as KubeStatus;
    if (typeof s.message === "string" && s.message) return s.message;
  } catch {
    // not a Status: the text is the message
  }
  const t = text.trim();
  return t ? t.slice(0, 500) : "(empty response)";
}

/** One watch: the server's chunked JSON lines, each an event. */
async function* watch<T>(conn: KubeConnection, agent: Agent, timeoutMs: number, path: string, rv: string | undefined, signal?: AbortSignal): AsyncIterable<WatchEvent<T>> {
  const query = new URLSearchParams({ watch: "1", allowWatchBookmarks: "true", timeoutSeconds: String(watchSeconds) });
  if (rv) query.set("resourceVersion", rv);
  const full = `${path}${path.includes("?") ? "&" : "?"}${query}`;
  const res = await open(conn, agent, timeoutMs, "GET", full, undefined, signal);
  const status = res.statusCode ?? 0;
  if (status !== 200) throw new KubeApiError("GET", full, status, statusMessage(await readAll(res, "GET", full)));
  // A watch is quiet for minutes at a time, but not longer than the server's own timeout.
  res.setTimeout((watchSeconds + 30) * 1000, () => res.destroy(new Error("the watch went silent")));
  let pending = "";
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      const lines = (pending + chunk.toString("utf8")).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) yield parseEvent<T>(line, full);
    }
    if (pending.trim()) yield parseEvent<T>(pending, full);
  } catch (err) {
    if (signal?.aborted) return;
    throw new KubeApiError("GET", full, status, err instanceof Error ? err.message : String(err), { cause: err });
  } finally {
    res.destroy();
  }
}

/** One line of a watch as an event. */
function parseEvent<T>(line: string, path: string): WatchEvent<T> {
  try {
    return JSON.parse(line) as WatchEvent<T>;
  } catch (err) {
    throw new KubeApiError("GET", path, 200, `a watch event is not JSON: ${line.slice(0, 200)}`, { cause: err });
  }
}

/** The parts of a kubeconfig a connection needs. */
export interface Kubeconfig {
  "current-context"?: string;
  clusters?: { name: string; cluster: { server: string; "certificate-authority-data"?: string } }[];
  users?: { name: string; user: { "client-certificate-data"?: string; "client-key-data"?: string; token?: string } }[];
  contexts?: { name: string; context: { cluster: string; user: string } }[];
}

/** The connection of `config`'s current context (else its first); throws naming what is missing. */
export function connectionFromKubeconfig(config: Kubeconfig): KubeConnection {
  const context = config.contexts?.find((c) => c.name === config["current-context"]) ?? config.contexts?.[0];
  const cluster = config.clusters?.find((c) => c.name === context?.context.cluster) ?? config.clusters?.[0];
  const user = config.users?.find((u) => u.name === context?.context.user) ?? config.users?.[0];
  if (!cluster) throw new Error("kubeconfig: no cluster");
  const ca = cluster.cluster["certificate-authority-data"];
  if (!ca) throw new Error(`kubeconfig: cluster ${cluster.name} has no certificate-authority-data`);
  const u = user?.user ?? {};
  const decode = (b64: string | undefined) => (b64 ? Buffer.from(b64, "base64").toString("utf8") : undefined);
  const conn: KubeConnection = { server: cluster.cluster.server, ca: decode(ca)! };
  if (u["client-certificate-data"] && u["client-key-data"]) Object.assign(conn, { cert: decode(u["client-certificate-data"]), key: decode(u["client-key-data"]) });
  else if (u.token) conn.token = u.token;
  else throw new Error(`kubeconfig: user ${user?.name ?? "(none)"} has neither client-certificate-data with client-key-data nor a token`);
  return conn;
}
