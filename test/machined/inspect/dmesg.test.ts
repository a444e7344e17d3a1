import { accessSync, constants } from "node:fs";
import t from "tap";
import { readKernelLog } from "../../../src/machined/inspect/dmesg.js";

/** Whether this host lets us read its kernel log. */
function kmsgReadable(): boolean {
  try {
    accessSync("/dev/kmsg", constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** Every record of a finite read, flattened. */
async function all(it: AsyncIterable<unknown[]>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const batch of it) out.push(...batch);
  return out;
}

const src = { path: "/dev/kmsg", pollMs: 20 };

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
