import { accessSync, appendFileSync, constants, readdirSync, readlinkSync } from "node:fs";
import t from "tap";
import { createKernelLog, type KmsgSource } from "../../../src/machined/inspect/dmesg.js";
import { kmsgReadable } from "../helpers.js";


/** Whether we may write records to this host's kernel log (root). */
function kmsgWritable(): boolean {
  try {
    accessSync("/dev/kmsg", constants.W_OK);
    return kmsgReadable();
  } catch {
    return false;
  }
}

/** How many of our fds are open on /dev/kmsg. */
function kmsgFds(): number {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === "/dev/kmsg";
    } catch {
      return false;
    }
  }).length;
}

/** Every record of a finite read, flattened. */
async function all(it: AsyncIterable<unknown[]>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const batch of it) out.push(...batch);
  return out;
}

const src = { path: "/dev/kmsg", pollMs: 20 };
const readKernelLog = (s: KmsgSource, q: Parameters<ReturnType<typeof createKernelLog>["read"]>[0]) => createKernelLog(s).read(q);

t.test("reads this host's kernel log, all of it or its last records", { skip: !kmsgReadable() && "/dev/kmsg is not readable here" }, async (t) => {
  const records = (await all(readKernelLog(src, { follow: false, tail: -1 }))) as { seq: number; usec: number; message: string }[];
  t.ok(records.length > 0, "the buffer has records");
  t.ok(records.every((r, i) => i === 0 || r.seq > records[i - 1]!.seq), "in sequence order");
  const last3 = await all(readKernelLog(src, { follow: false, tail: 3 }));
  t.equal(last3.length, Math.min(3, records.length));
  t.same(await all(readKernelLog(src, { follow: false, tail: 0 })), [], "tail 0 sends none");
});

t.test("follows the kernel log until the signal aborts, then ends", { skip: !kmsgReadable() && "/dev/kmsg is not readable here" }, async (t) => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 150);
  const started = Date.now();
  await all(readKernelLog(src, { follow: true, tail: 0, signal: ac.signal }));
  t.ok(Date.now() - started >= 140, "it kept following until aborted");
  t.ok(Date.now() - started < 1000, "and stopped promptly");
});

t.test("says the kernel log is unavailable when there is no /dev/kmsg", async (t) => {
  const it = readKernelLog({ path: "/nonexistent/kmsg", pollMs: 20 }, { follow: false, tail: -1 });
  await t.rejects(all(it), { kind: "refused", message: "the kernel log is not available on this machine: /nonexistent/kmsg does not exist" });
});

t.test("300 followers of this host's kernel log hold one /dev/kmsg fd and each see a new record", { skip: !kmsgWritable() && "/dev/kmsg is not writable here" }, async (t) => {
  const log = createKernelLog(src);
  const ac = new AbortController();
  const before = kmsgFds();
  const marker = `kiln test: dmesg fan-out ${process.pid} ${Date.now()}`;
  const seen = Array.from({ length: 300 }, async () => {
    for await (const batch of log.read({ follow: true, tail: 0, signal: ac.signal })) {
      if (batch.some((r) => r.message.includes(marker))) return true;
    }
    return false;
  });
  await new Promise((r) => setTimeout(r, 100));
  t.equal(kmsgFds() - before, 1, "one fd for all 300");
  appendFileSync("/dev/kmsg", `${marker}\n`);
  t.ok((await Promise.all(seen)).every(Boolean), "every follower saw the record");
  ac.abort();
  await new Promise((r) => setTimeout(r, 50));
  t.equal(kmsgFds(), before, "closed when the last left");
  t.same(log.stats(), { followers: 0, open: false });
});
