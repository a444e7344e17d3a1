// Source "cmdline-url": kiln.config=<URL> from the kernel command line,
// fetched with backoff while the network comes up; each failure says why.
import { createServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import t, { type Test } from "tap";
import { type CmdlineUrlOptions, cmdlineUrlSource } from "../../../src/machined/config-sources/cmdline-url.js";
import type { SourceResult } from "../../../src/machined/config-sources/source.js";
import { selfSigned } from "../../../src/pki/certs.js";
import { worker } from "../../config/fixtures.js";
import { fakeMachine } from "./helpers.js";

/** A clock whose sleep only moves time on, recording each pause. */
function fakeClock() {
  const c = {
    t: 0,
    sleeps: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => {
      c.sleeps.push(ms);
      c.t += ms;
    },
  };
  return c;
}

/** Runs the source over a fake /proc whose cmdline is `cmdline`, collecting its notes. */
async function run(t: Test, cmdline: string | undefined, opts: Omit<CmdlineUrlOptions, "proc"> = {}) {
  const m = fakeMachine(t);
  if (cmdline !== undefined) m.cmdline(cmdline);
  const notes: string[] = [];
  const result: SourceResult = await cmdlineUrlSource({ proc: m.proc, ...opts }).fetch((n) => void notes.push(n));
  return { result, notes };
}

/** A real HTTP server on 127.0.0.1 answering with each of `replies` in turn (the last repeats). */
async function serve(t: Test, replies: [number, string][]): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const server: Server = createServer((_req, res) => {
    const [status, body] = replies[Math.min(hits++, replies.length - 1)]!;
    res.writeHead(status, { "content-type": "application/yaml" }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/worker.yaml`, hits: () => hits };
}

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const refused = () => Promise.reject(Object.assign(new TypeError("fetch failed"), { cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }) }));

t.test("skips without kiln.config, with kiln.config=none, or with no URL", async (t) => {
  const fetch = () => t.fail("no fetch") as never;
  t.same((await run(t, "console=ttyS0", { fetch })).result, { t: "none", why: "no kiln.config= on the kernel command line" });
  t.same((await run(t, undefined, { fetch })).result, { t: "none", why: "no kiln.config= on the kernel command line" });
  t.same((await run(t, "kiln.config=http://a/ kiln.config=none", { fetch })).result, { t: "none", why: "kiln.config=none on the kernel command line" });
  t.same((await run(t, "kiln.config=/boot/config.yaml", { fetch })).result, {
    t: "none",
    why: "kiln.config=/boot/config.yaml is not an http(s) URL; skipped",
  });
});

t.test("backs off exponentially up to 10 s between tries and gives up when the budget is spent", async (t) => {
  const clock = fakeClock();
  let tries = 0;
  const { result, notes } = await run(t, "kiln.config=http://config.example/w.yaml", {
    clock,
    budgetMs: 60_000,
    fetch: () => {
      tries++;
      return refused();
    },
  });
  t.same(clock.sleeps, [1000, 2000, 4000, 8000, 10_000, 10_000, 10_000, 10_000, 5000]);
  t.equal(tries, 10);
  t.same(result, { t: "none", why: "gave up on http://config.example/w.yaml after 10 tries in 60s: connection refused by config.example:80" });
  t.equal(notes[0], "http://config.example/w.yaml: try 1 failed: connection refused by config.example:80; again in 1s");
  t.equal(notes.length, 9);
});

t.test("waits for the network first, and tries anyway when it does not come up", async (t) => {
  const clock = fakeClock();
  const waited: number[] = [];
  const { result, notes } = await run(t, "kiln.config=http://config.example/w.yaml", {
    clock,
    budgetMs: 30_000,
    waitOnline: async (ms) => {
      waited.push(ms);
      clock.t += 30_000;
      return false;
    },
    fetch: async () => new Response(worker({}), { status: 200 }),
  });
  t.same(waited, [30_000]);
  t.same(notes, ["waiting for the network before fetching http://config.example/w.yaml", "the network is not up after 30s; trying anyway"]);
  t.same(result, { t: "found", yaml: worker({}), origin: "http://config.example/w.yaml" });
});

t.test("keeps a password out of the console", async (t) => {
  const clock = fakeClock();
  const { result, notes } = await run(t, "kiln.config=https://u:secret@config.example/w.yaml", { clock, budgetMs: 1500, fetch: refused });
  t.notMatch(JSON.stringify({ result, notes }), "secret");
  t.match(result, { why: /^gave up on https:\/\/config.example\/w.yaml after 3 tries in 1.5s: connection refused by config.example:443$/ });
});

t.test("real HTTP: a 404 is retried until the server answers 200", async (t) => {
  const srv = await serve(t, [
    [404, "not yet"],
    [404, "not yet"],
    [200, worker({ hostname: "from-url" })],
  ]);
  const { result, notes } = await run(t, `quiet "kiln.config=${srv.url}"`, { firstDelayMs: 10, budgetMs: 10_000 });
  t.same(result, { t: "found", yaml: worker({ hostname: "from-url" }), origin: srv.url });
  t.equal(srv.hits(), 3);
  t.same(notes, [`${srv.url}: try 1 failed: HTTP 404 Not Found; again in 10ms`, `${srv.url}: try 2 failed: HTTP 404 Not Found; again in 20ms`]);
});

t.test("real HTTP: a refused connection is retried, then given up with the reason", async (t) => {
  const url = `http://127.0.0.1:${await closedPort()}/w.yaml`;
  const { result, notes } = await run(t, `kiln.config=${url}`, { firstDelayMs: 20, budgetMs: 300 });
  t.match(result, { t: "none", why: new RegExp(`^gave up on ${url.replaceAll(".", "\\.")} after \\d+ tries in .*: connection refused by 127\\.0\\.0\\.1:\\d+$`) });
  t.ok(notes.length >= 2, "several tries");
});

t.test("real HTTP: an unknown host is a DNS failure", async (t) => {
  const { result } = await run(t, "kiln.config=http://kiln-config.invalid/w.yaml", { budgetMs: 1 });
  t.match(result, { t: "none", why: /: DNS: (no such host kiln-config\.invalid|lookup of kiln-config\.invalid failed)/ });
});

t.test("real HTTPS: a server certificate no CA vouches for is refused, and said so", async (t) => {
  const { crt, key } = await selfSigned({ commonName: "127.0.0.1", sans: ["127.0.0.1"] });
  const server = createHttpsServer({ cert: crt, key }, (_req, res) => res.end(worker({})));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/w.yaml`;
  const { result } = await run(t, `kiln.config=${url}`, { budgetMs: 1 });
  t.match(result, { t: "none", why: /: TLS: .*\((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)$/ });
});

t.test("real HTTP: a preempting reboot stops a request the server holds, at once, with its reason", async (t) => {
  const server: Server = createServer(() => {}); // never answers
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  const m = fakeMachine(t);
  m.cmdline(`kiln.config=http://127.0.0.1:${(server.address() as AddressInfo).port}/worker.yaml`);
  const ac = new AbortController();
  const fetching = cmdlineUrlSource({ proc: m.proc }).fetch(() => {}, ac.signal);
  await new Promise((r) => setTimeout(r, 100));
  const started = Date.now();
  ac.abort(new Error("preempted by reboot"));
  await t.rejects(fetching, { message: "preempted by reboot" });
  t.ok(Date.now() - started < 1000, "it stops at once, not after the try's 30 s");
});

t.test("a preempting reboot ends the backoff between tries", async (t) => {
  const ac = new AbortController();
  const clock = { now: () => 0, sleep: () => new Promise<void>(() => {}) }; // a pause that never ends by itself
  const m = fakeMachine(t);
  m.cmdline("kiln.config=http://10.0.0.1/worker.yaml");
  const fetching = cmdlineUrlSource({ proc: m.proc, clock, fetch: refused }).fetch(() => {}, ac.signal);
  await new Promise((r) => setTimeout(r, 20));
  ac.abort(new Error("preempted by shutdown"));
  await t.rejects(fetching, { message: "preempted by shutdown" });
});
