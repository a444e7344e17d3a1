import t from "tap";
import { decodeReply, encodeRequest, NTP_PACKET_SIZE, timestampMs, writeTimestamp } from "../../../src/machined/time/ntp-packet.js";
import { replyTo } from "./ntp-responder.js";

const nonce = Buffer.from("0123456789abcdef", "hex");

t.test("a request is 48 bytes of version 4, client mode, with the nonce as transmit timestamp", async (t) => {
  const req = encodeRequest(nonce);
  t.equal(req.length, NTP_PACKET_SIZE);
  t.equal(req[0], 0x23, "LI 0, VN 4, mode 3");
  t.same(req.subarray(40, 48), nonce);
  t.equal(req.subarray(1, 40).some((b) => b !== 0), false, "everything else is zero");
  t.throws(() => encodeRequest(Buffer.alloc(4)), /an NTP nonce is 8 bytes, got 4/);
});

t.test("timestamps round-trip to the microsecond across the 2036 era boundary", async (t) => {
  const buf = Buffer.alloc(8);
  for (const iso of ["1970-01-01T00:00:00.000Z", "2024-05-01T10:00:00.123Z", "2036-02-07T06:28:15.999Z", "2036-02-07T06:28:16.000Z", "2040-01-01T00:00:00.500Z"]) {
    const ms = Date.parse(iso) + 0.456;
    writeTimestamp(buf, 0, ms);
    t.ok(Math.abs(timestampMs(buf, 0) - ms) < 0.001, `${iso} comes back (${timestampMs(buf, 0) - ms} ms apart)`);
  }
});

t.test("a known timestamp decodes to its date", async (t) => {
  // 0xE93C7F00 = 3913056000 s since 1900 = 2024-01-01T00:00:00Z; fraction 0x80000000 = half a second
  const buf = Buffer.from("e93c7f0080000000", "hex");
  t.equal(new Date(timestampMs(buf, 0)).toISOString(), "2024-01-01T00:00:00.500Z");
});

t.test("a reply decodes into its header, delays, origin and timestamps", async (t) => {
  const at = Date.parse("2024-05-01T10:00:00Z");
  const r = decodeReply(replyTo(encodeRequest(nonce), { receiveMs: at, transmitMs: at + 2, stratum: 3, leap: 0 }));
  if (!("value" in r)) throw new Error(r.error);
  const v = r.value;
  t.same([v.leap, v.version, v.mode, v.stratum], [0, 4, 4, 3]);
  t.ok(Math.abs(v.rootDelayMs - 3.906) < 0.001, `root delay ${v.rootDelayMs}`);
  t.ok(Math.abs(v.rootDispersionMs - 1.953) < 0.001, `root dispersion ${v.rootDispersionMs}`);
  t.equal(v.kiss, "");
  t.same(v.origin, nonce, "origin echoes the nonce");
  t.ok(Math.abs(v.receiveMs - at) < 0.001 && Math.abs(v.transmitMs - (at + 2)) < 0.001);
  t.equal(v.transmitZero, false);
});

t.test("a kiss-o'-death carries its code and a short packet is refused", async (t) => {
  const kod = replyTo(encodeRequest(nonce), { receiveMs: 0, transmitMs: 0, stratum: 0 });
  kod.write("RATE", 12, "latin1");
  const r = decodeReply(kod);
  t.equal("value" in r && r.value.kiss, "RATE");
  t.same(decodeReply(Buffer.alloc(20)), { error: "an NTP reply is at least 48 bytes, got 20" });
});
