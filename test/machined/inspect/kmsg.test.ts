import t from "tap";
import { formatKernelRecord, parseKmsgRecord } from "../../../src/machined/inspect/kmsg.js";

t.test("parses a record's priority, sequence and time, and drops its dictionary lines", async (t) => {
  const r = parseKmsgRecord("6,339,5140900,-;NET: Registered protocol family 10\n SUBSYSTEM=net\n DEVICE=+net:lo\n");
  t.same(r, { value: { facility: "kern", level: "info", seq: 339, usec: 5140900, message: "NET: Registered protocol family 10" } });
});

t.test("names facilities and levels from the syslog priority", async (t) => {
  t.match(parseKmsgRecord("30,1,2,-;started"), { value: { facility: "daemon", level: "info" } });
  t.match(parseKmsgRecord("12,1,2,c;oops"), { value: { facility: "user", level: "warn" } });
  t.match(parseKmsgRecord("187,1,2,-;local"), { value: { facility: "local7", level: "err" } });
});

t.test("keeps semicolons in the message and extra header fields before it", async (t) => {
  t.match(parseKmsgRecord("4,7,8,-,caller=T1;a; b"), { value: { level: "warn", seq: 7, message: "a; b" } });
});

t.test("refuses a record without a header, saying what it got", async (t) => {
  t.match(parseKmsgRecord("garbage"), { error: /no ";" after the record header in "garbage"/ });
  t.match(parseKmsgRecord("x,1,2,-;msg"), { error: /bad record header "x,1,2,-"/ });
});

t.test("formats a record as dmesg -x does", async (t) => {
  const r = { facility: "kern", level: "info", seq: 0, usec: 12_345_678, message: "hello" };
  t.equal(formatKernelRecord(r), "kern  :info  : [   12.345678] hello");
  t.equal(formatKernelRecord({ ...r, usec: 42, level: "notice" }), "kern  :notice: [    0.000042] hello");
});
