import t from "tap";
import { parseMeminfo, readMeminfo } from "../../../src/machined/inspect/meminfo.js";

const sample = `MemTotal:       16318480 kB
MemFree:         1042132 kB
MemAvailable:   10541020 kB
Buffers:          652916 kB
Cached:          8559496 kB
SwapCached:            0 kB
Shmem:            331400 kB
SwapTotal:       2097148 kB
SwapFree:        2097148 kB
HugePages_Total:       0
`;

t.test("converts /proc/meminfo's kB to bytes, field by field", async (t) => {
  t.same(parseMeminfo(sample), {
    total: 16318480 * 1024,
    free: 1042132 * 1024,
    available: 10541020 * 1024,
    buffers: 652916 * 1024,
    cached: 8559496 * 1024,
    shared: 331400 * 1024,
    swapTotal: 2097148 * 1024,
    swapFree: 2097148 * 1024,
  });
});

t.test("leaves fields the kernel does not report at 0", async (t) => {
  t.same(parseMeminfo("MemTotal: 100 kB\n"), { total: 102400, free: 0, available: 0, buffers: 0, cached: 0, shared: 0, swapTotal: 0, swapFree: 0 });
});

t.test("reads this host's memory figures", async (t) => {
  const m = await readMeminfo("/proc");
  t.ok(m.total > 0, "total memory is known");
  t.ok(m.available <= m.total && m.free <= m.total, "available and free fit in total");
  t.equal(m.total % 1024, 0, "in bytes, from kB");
});
