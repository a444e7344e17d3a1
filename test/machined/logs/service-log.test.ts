import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import t from "tap";
import { createLogStore } from "../../../src/machined/logs/log-store.js";
import { createServiceLog } from "../../../src/machined/logs/service-log.js";
import { processRunner } from "../../../src/machined/supervisor/process-runner.js";
import { fixture, tempDir, waitFor } from "../helpers.js";

t.test("writes to the ring and to <dir>/<id>.log at once", async (t) => {
  const dir = tempDir(t);
  const log = createServiceLog("svc", dir);
  log.write(Buffer.from("a\nb\nc\n"));
  t.equal(log.tail(2).toString(), "b\nc\n");
  t.equal(readFileSync(join(dir, "svc.log"), "utf8"), "a\nb\nc\n");
  log.close();
});

t.test("reads the tail, then follows, with nothing lost or repeated between them", async (t) => {
  const log = createServiceLog("svc", tempDir(t));
  log.write(Buffer.from("old-1\nold-2\n"));
  const ac = new AbortController();
  const it = log.read({ tailLines: 1, follow: true, signal: ac.signal })[Symbol.asyncIterator]();
  log.write(Buffer.from("new\n"));
  t.equal(Buffer.from((await it.next()).value!).toString(), "old-2\n");
  t.equal(Buffer.from((await it.next()).value!).toString(), "new\n");
  ac.abort();
  t.equal((await it.next()).done, true);
});

t.test("says in the log when the file cannot be written, and keeps the ring", async (t) => {
  const dir = tempDir(t);
  const { writeFileSync } = await import("node:fs");
  writeFileSync(join(dir, "blocked"), "a file where the log directory should be");
  const log = createServiceLog("svc", join(dir, "blocked"));
  log.write(Buffer.from("still here\n"));
  t.match(log.tail(-1).toString(), /still here\n\n\[kiln: writing log file .*; logging to memory only\]/);
});

t.test("the store creates a log per id on first use", async (t) => {
  const store = createLogStore({ dir: tempDir(t) });
  store.sink("a").write(Buffer.from("from a\n"));
  t.equal(store.get("a").tail(-1).toString(), "from a\n");
  t.equal(store.get("b").tail(-1).length, 0);
  const chunks: string[] = [];
  for await (const c of store.read({ id: "a", tailLines: -1, follow: false })) chunks.push(Buffer.from(c).toString());
  t.same(chunks, ["from a\n"]);
  store.close();
});

/** A full GC, so what is measured is what is still referenced. */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

t.test("a service writing 100k lines/s does not grow memory while a follower reads slowly", async (t) => {
  const dir = tempDir(t);
  const log = createServiceLog("flood", dir, { ringBytes: 1 << 20, fileMaxBytes: 4 << 20, followerQueueBytes: 256 << 10 });
  let written = 0;
  const counting = {
    write(c: Uint8Array) {
      written += c.length;
      log.write(c);
    },
  };
  const proc = processRunner(fixture("flood-logs.js", "100000", "100")).start(counting);
  t.teardown(() => proc.killAll());
  const ac = new AbortController();
  let markers = 0;
  const reader = (async () => {
    for await (const c of log.follow(ac.signal)) {
      if (Buffer.from(c).includes("bytes dropped]")) markers++;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await waitFor("the flood to start", () => written > 4 << 20, 10_000);
  collectGarbage();
  const base = process.memoryUsage();
  let peak = base;
  for (let i = 0; i < 25; i++) {
    await new Promise((r) => setTimeout(r, 200));
    collectGarbage();
    const now = process.memoryUsage();
    if (now.rss > peak.rss) peak = { ...now };
    peak = { ...peak, arrayBuffers: Math.max(peak.arrayBuffers, now.arrayBuffers) };
  }
  ac.abort();
  await reader;
  const mib = (n: number) => `${(n / (1 << 20)).toFixed(1)} MiB`;
  t.comment(`wrote ${mib(written)}; rss ${mib(base.rss)} → ${mib(peak.rss)}; buffers ${mib(base.arrayBuffers)} → ${mib(peak.arrayBuffers)}`);
  t.ok(written > 25 << 20, `the fixture flooded (${mib(written)})`);
  t.ok(peak.arrayBuffers - base.arrayBuffers < 16 << 20, "live buffer memory stays bounded");
  t.ok(peak.rss - base.rss < 96 << 20, "rss stays bounded");
  t.ok(markers > 0, "the slow follower was told what it missed");
  t.ok(log.tail(-1).length <= 1 << 20, "the ring holds at most its size");
  const files = readdirSync(dir).sort();
  t.same(files, ["flood.log", "flood.log.1"], "one rotated file is kept");
  for (const f of files) t.ok(statSync(join(dir, f)).size <= 4 << 20, `${f} stays under the rotation size`);
});
