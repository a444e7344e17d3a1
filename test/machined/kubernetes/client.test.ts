// The Kubernetes client against a local HTTPS server that answers as the API
// server would: JSON bodies, Status errors, chunked watch lines.
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import t, { type Test } from "tap";
import { connectionFromKubeconfig, createKubeClient, KubeApiError, statusMessage, type WatchEvent } from "../../../src/machined/kubernetes/client.js";
import { createCA, issueClientCert, issueServerCert } from "../../../src/pki/certs.js";

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

/** An HTTPS server on 127.0.0.1 with a CA-issued certificate, answering with `handler`; closed at teardown. */
async function apiServer(t: Test, handler: Handler) {
  const ca = await createCA("test");
  const serving = await issueServerCert(ca, { commonName: "api", sans: ["127.0.0.1"] });
  const server = createServer({ cert: serving.crt, key: serving.key, ca: ca.crt, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => handler(req, res, body));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  return { server: `https://127.0.0.1:${port}`, ca: ca.crt, caKey: ca };
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};

t.test("GET sends the bearer token and returns the JSON", async (t) => {
  let auth: string | undefined;
  const api = await apiServer(t, (req, res) => {
    auth = req.headers.authorization;
    json(res, 200, { kind: "Node", metadata: { name: "n1" } });
  });
  const c = createKubeClient({ server: api.server, ca: api.ca, token: "abc.def" });
  t.teardown(() => c.close());
  t.same(await c.get("/api/v1/nodes/n1"), { kind: "Node", metadata: { name: "n1" } });
  t.equal(auth, "Bearer abc.def");
});

t.test("a client certificate is presented", async (t) => {
  let cn: unknown;
  const api = await apiServer(t, (req, res) => {
    cn = (req.socket as import("node:tls").TLSSocket).getPeerCertificate().subject?.CN;
    json(res, 200, {});
  });
  const cert = await issueClientCert(api.caKey, { roles: ["system:nodes"], commonName: "system:node:n1" });
  const c = createKubeClient({ server: api.server, ca: api.ca, cert: cert.crt, key: cert.key });
  t.teardown(() => c.close());
  await c.get("/x");
  t.equal(cn, "system:node:n1");
});

t.test("an error names the method, path, status and the Status message; 404 and 409 have their own answers", async (t) => {
  const api = await apiServer(t, (req, res) => {
    if (req.url === "/missing") return json(res, 404, { kind: "Status", message: 'nodes "x" not found', code: 404 });
    if (req.method === "POST") return json(res, 409, { kind: "Status", message: "already exists", code: 409 });
    json(res, 403, { kind: "Status", message: "forbidden: User cannot", code: 403 });
  });
  const c = createKubeClient({ server: api.server, ca: api.ca, token: "t" });
  t.teardown(() => c.close());
  const err = await c.get("/api/v1/secrets").catch((e: unknown) => e);
  t.ok(err instanceof KubeApiError);
  t.equal((err as Error).message, "GET /api/v1/secrets: 403 forbidden: User cannot");
  t.match(err, { method: "GET", path: "/api/v1/secrets", status: 403, apiMessage: "forbidden: User cannot" });
  t.equal(await c.getOptional("/missing"), undefined);
  await t.rejects(c.get("/missing"), /GET \/missing: 404 nodes "x" not found/);
  t.same(await c.create("/api/v1/nodes", { kind: "Node" }), { t: "exists" });
  await t.rejects(c.put("/api/v1/nodes/x", {}), /PUT \/api\/v1\/nodes\/x: 403/);
});

t.test("a server that does not answer in time is an error naming the request", async (t) => {
  const api = await apiServer(t, () => {});
  const c = createKubeClient({ server: api.server, ca: api.ca, token: "t", timeoutMs: 200 });
  t.teardown(() => c.close());
  await t.rejects(c.get("/slow"), /^GET \/slow: no response within 200 ms$/);
});

t.test("a server that is not there is an error naming the request", async (t) => {
  const c = createKubeClient({ server: "https://127.0.0.1:1", ca: "", token: "t" });
  t.teardown(() => c.close());
  await t.rejects(c.get("/x"), /^GET \/x: .*ECONNREFUSED/);
});

t.test("a watch yields each JSON line as an event, from the resourceVersion asked", async (t) => {
  let url = "";
  const api = await apiServer(t, (req, res) => {
    url = req.url ?? "";
    res.writeHead(200, { "content-type": "application/json" });
    res.write(`${JSON.stringify({ type: "ADDED", object: { metadata: { name: "a" } } })}\n{"type":"MODI`);
    setTimeout(() => res.end(`FIED","object":{"metadata":{"name":"a"}}}\n${JSON.stringify({ type: "ERROR", object: { code: 410 } })}\n`), 50);
  });
  const c = createKubeClient({ server: api.server, ca: api.ca, token: "t" });
  t.teardown(() => c.close());
  const events: WatchEvent<{ metadata: { name: string } }>[] = [];
  for await (const ev of c.watch<{ metadata: { name: string } }>("/apis/x", "42")) events.push(ev);
  t.same(
    events.map((e) => e.type),
    ["ADDED", "MODIFIED", "ERROR"],
  );
  t.match(url, /^\/apis\/x\?watch=1&.*resourceVersion=42/);
});

t.test("a watch ends quietly when its signal aborts", async (t) => {
  const api = await apiServer(t, (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.write(`${JSON.stringify({ type: "ADDED", object: {} })}\n`);
  });
  const c = createKubeClient({ server: api.server, ca: api.ca, token: "t" });
  t.teardown(() => c.close());
  const ac = new AbortController();
  let n = 0;
  for await (const _ of c.watch("/apis/x", undefined, ac.signal)) {
    n++;
    ac.abort();
  }
  t.equal(n, 1);
});

t.test("statusMessage takes a Status's message, else the text", async (t) => {
  t.equal(statusMessage('{"kind":"Status","message":"no"}'), "no");
  t.equal(statusMessage("Unauthorized\n"), "Unauthorized");
  t.equal(statusMessage(""), "(empty response)");
});

t.test("a kubeconfig gives the current context's server, CA and credentials", async (t) => {
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  const conn = connectionFromKubeconfig({
    "current-context": "b",
    clusters: [
      { name: "ca", cluster: { server: "https://a", "certificate-authority-data": b64("CA-A") } },
      { name: "cb", cluster: { server: "https://b", "certificate-authority-data": b64("CA-B") } },
    ],
    users: [
      { name: "ua", user: { token: "tok" } },
      { name: "ub", user: { "client-certificate-data": b64("CERT"), "client-key-data": b64("KEY") } },
    ],
    contexts: [
      { name: "a", context: { cluster: "ca", user: "ua" } },
      { name: "b", context: { cluster: "cb", user: "ub" } },
    ],
  });
  t.same(conn, { server: "https://b", ca: "CA-B", cert: "CERT", key: "KEY" });
  t.throws(() => connectionFromKubeconfig({ clusters: [{ name: "c", cluster: { server: "https://x" } }] }), /no certificate-authority-data/);
  t.throws(
    () => connectionFromKubeconfig({ clusters: [{ name: "c", cluster: { server: "https://x", "certificate-authority-data": b64("CA") } }], users: [{ name: "u", user: {} }] }),
    /user u has neither/,
  );
});
