import t from "tap";
import { querySntp } from "../../../src/machined/time/sntp-query.js";
import { startResponder } from "./ntp-responder.js";

const year = 365 * 86_400_000;

t.test("against a local responder, a clock a year slow measures an offset of a year", async (t) => {
  const server = await startResponder({ now: () => Date.now() });
  t.teardown(() => server.close());
  const r = await querySntp("127.0.0.1", { now: () => Date.now() - year, timeoutMs: 2_000, port: server.port });
  if (!("value" in r)) throw new Error(r.error);
  // NTP's offset is exact up to half the round trip's asymmetry: at most half the delay (plus clock reads).
  t.ok(r.value.delayMs >= 0 && r.value.delayMs < 2_000, `delay ${r.value.delayMs} ms, within the timeout`);
  t.ok(Math.abs(r.value.offsetMs - year) <= r.value.delayMs / 2 + 5, `offset ${r.value.offsetMs - year} ms from a year (delay ${r.value.delayMs} ms)`);
  t.equal(r.value.server, "127.0.0.1");
  t.equal(server.requests, 1);
});

t.test("a server that holds the request does not count its holding time as delay", async (t) => {
  const server = await startResponder({ now: () => Date.now() + 250, holdMs: 400 });
  t.teardown(() => server.close());
  const r = await querySntp("127.0.0.1", { now: () => Date.now(), timeoutMs: 2_000, port: server.port });
  if (!("value" in r)) throw new Error(r.error);
  t.ok(r.value.delayMs >= 0 && r.value.delayMs < 400, `delay ${r.value.delayMs} ms excludes the 400 ms hold`);
  t.ok(Math.abs(r.value.offsetMs - 250) <= r.value.delayMs / 2 + 5, `offset ${r.value.offsetMs} ms (delay ${r.value.delayMs} ms)`);
});

t.test("a name is resolved first, and a failure to resolve names the server", async (t) => {
  const server = await startResponder({ now: () => Date.now() + 1_000 });
  t.teardown(() => server.close());
  const r = await querySntp("ntp.test", { now: () => Date.now(), timeoutMs: 2_000, port: server.port, resolve: async () => "127.0.0.1" });
  t.ok("value" in r && Math.abs(r.value.offsetMs - 1_000) < 50 && r.value.address === "127.0.0.1", JSON.stringify(r));
  const bad = await querySntp("nowhere.test", { now: () => Date.now(), timeoutMs: 2_000, resolve: async () => Promise.reject(new Error("ENOTFOUND")) });
  t.same(bad, { error: "resolving nowhere.test: ENOTFOUND" });
});

t.test("no answer within the timeout is an error naming the server and the wait", async (t) => {
  const server = await startResponder({ now: () => Date.now(), mangle: () => null });
  t.teardown(() => server.close());
  const started = Date.now();
  const r = await querySntp("127.0.0.1", { now: () => Date.now(), timeoutMs: 300, port: server.port });
  t.same(r, { error: `no answer from 127.0.0.1 (127.0.0.1:${server.port}) within 0.3 s` });
  t.ok(Date.now() - started < 1_000, "bounded by the timeout");
});

t.test("a reply that does not echo the nonce is ignored, and an unsynchronized server is refused", async (t) => {
  const stray = await startResponder({ now: () => Date.now(), mangle: (b) => b.fill(7, 24, 32) });
  t.teardown(() => stray.close());
  t.match(await querySntp("127.0.0.1", { now: () => Date.now(), timeoutMs: 300, port: stray.port }), { error: /no answer from/ });
  const alarm = await startResponder({ now: () => Date.now(), leap: 3 });
  t.teardown(() => alarm.close());
  t.match(await querySntp("127.0.0.1", { now: () => Date.now(), timeoutMs: 2_000, port: alarm.port }), { error: /^127\.0\.0\.1: leap indicator 3/ });
});
