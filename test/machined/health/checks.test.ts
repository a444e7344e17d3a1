import { writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer as createNetServer } from "node:net";
import { join } from "node:path";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import t from "tap";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "../../../src/gen/grpc/health/v1/health_pb.js";
import { grpcImplementation } from "../../../src/grpc/server.js";
import { execHealth, grpcHealth, httpHealth, httpsHealth, unixSocketHealth } from "../../../src/machined/health/checks.js";
import { createCA, issueServerCert } from "../../../src/pki/certs.js";
import type { HealthCheck } from "../../../src/machined/service.js";
import { fixture, type Teardown, tempDir, testContext } from "../helpers.js";

/** Runs a check once: "ok" or its error message. */
async function run(t: Teardown, check: HealthCheck, signal = AbortSignal.timeout(5000)): Promise<string> {
  try {
    await check(testContext(tempDir(t)), signal);
    return "ok";
  } catch (err) {
    const e = err as Error;
    return e.cause instanceof Error ? `${e.message}: ${e.cause.message}` : e.message;
  }
}

t.test("exec: healthy on exit 0, otherwise the exit code and last output line", async (t) => {
  t.equal(await run(t, execHealth(fixture("exit-with.js", "0"))), "ok");
  t.match(await run(t, execHealth(fixture("exit-with.js", "4"))), /exited with code 4: exiting with 4$/);
  t.match(await run(t, execHealth(["/nonexistent/probe"])), /^running \/nonexistent\/probe: spawn .* ENOENT/);
});

t.test("exec: kills the probe when the check is aborted", async (t) => {
  t.match(await run(t, execHealth(fixture("forever.js")), AbortSignal.timeout(300)), /aborted|killed by SIGKILL/i);
});

t.test("http: healthy on 2xx only", async (t) => {
  const server = createHttpServer((req, res) => {
    res.statusCode = req.url?.startsWith("/healthz") ? 200 : 503;
    res.end("body");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  t.equal(await run(t, httpHealth(`${base}/healthz`)), "ok");
  t.equal(await run(t, httpHealth(`${base}/other`)), `GET ${base}/other: HTTP 503`);
  t.equal(await run(t, httpHealth((m) => `${base}/healthz?platform=${m.platform}`)), "ok", "the url may depend on the machine");
});

t.test("https: verified against the given CA, or (loopback probes of self-signed servers) not at all", async (t) => {
  const ca = await createCA("test");
  const cert = await issueServerCert(ca, { commonName: "server", sans: ["127.0.0.1"] });
  const server = createHttpsServer({ cert: cert.crt, key: cert.key }, (req, res) => {
    res.statusCode = req.url === "/readyz" ? 200 : 500;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => server.close());
  const base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  const dir = tempDir(t);
  writeFileSync(join(dir, "ca.crt"), ca.crt);
  writeFileSync(join(dir, "other.crt"), (await createCA("other")).crt);
  t.equal(await run(t, httpsHealth(`${base}/readyz`, join(dir, "ca.crt"))), "ok");
  t.equal(await run(t, httpsHealth(`${base}/other`, join(dir, "ca.crt"))), `GET ${base}/other: HTTP 500`);
  t.match(await run(t, httpsHealth(`${base}/readyz`, join(dir, "other.crt"))), /^GET .*: .*(certificate|issuer)/i, "another CA's certificate is refused");
  t.equal(await run(t, httpsHealth(`${base}/readyz`)), "ok", "without a CA the certificate is not checked");
});

t.test("unix socket: healthy when a connection succeeds", async (t) => {
  const path = join(tempDir(t), "s.sock");
  t.match(await run(t, unixSocketHealth(path)), /^connecting to .*s\.sock: connect ENOENT/);
  const server = createNetServer((c) => c.end());
  await new Promise<void>((r) => server.listen(path, r));
  t.teardown(() => server.close());
  t.equal(await run(t, unixSocketHealth(path)), "ok");
});

t.test("grpc: healthy when grpc.health.v1 Check says SERVING", async (t) => {
  const path = join(tempDir(t), "grpc.sock");
  let status = Serving.NOT_SERVING;
  const server = new Server();
  const { definition, implementation } = grpcImplementation(Health, {
    check: async () => ({ status }),
    async *watch() {},
  });
  server.addService(definition, implementation);
  await new Promise<void>((ok, fail) => server.bindAsync(`unix://${path}`, ServerCredentials.createInsecure(), (e) => (e ? fail(e) : ok())));
  t.teardown(() => server.forceShutdown());
  t.equal(await run(t, grpcHealth(`unix://${path}`)), `unix://${path}: NOT_SERVING`);
  status = Serving.SERVING;
  t.equal(await run(t, grpcHealth(`unix://${path}`)), "ok");
  t.equal(await run(t, grpcHealth(path)), "ok", "a bare path is a unix socket");
});

t.test("grpc: unhealthy when nothing listens", async (t) => {
  const path = join(tempDir(t), "none.sock");
  t.not(await run(t, grpcHealth(path)), "ok");
});
