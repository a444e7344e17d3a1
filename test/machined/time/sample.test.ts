import t from "tap";
import { decodeReply, encodeRequest, type NtpReply } from "../../../src/machined/time/ntp-packet.js";
import { bestSample, offsetAndDelay, type Sample, sampleOf } from "../../../src/machined/time/sample.js";
import { replyTo } from "./ntp-responder.js";

const nonce = Buffer.from("0011223344556677", "hex");
const T = Date.parse("2024-05-01T10:00:00Z");

/** A decoded reply to our nonce at server times t2/t3, with `edit` applied to its bytes. */
function reply(t2: number, t3: number, o: { stratum?: number; leap?: number } = {}, edit: (b: Buffer) => void = () => {}): NtpReply {
  const bytes = replyTo(encodeRequest(nonce), { receiveMs: t2, transmitMs: t3, ...o });
  edit(bytes);
  const r = decodeReply(bytes);
  if (!("value" in r)) throw new Error(r.error);
  return r.value;
}

t.test("offset and delay follow RFC 4330 from the four timestamps", async (t) => {
  // Our clock 500 ms behind; 10 ms each way; the server holds it 1 ms.
  t.same(offsetAndDelay(T, T + 510, T + 511, T + 21), { offsetMs: 500, delayMs: 20 });
  // Our clock a year ahead.
  const year = 365 * 86_400_000;
  t.same(offsetAndDelay(T + year, T + 5, T + 5, T + year + 10), { offsetMs: -year, delayMs: 10 });
  // An asymmetric path skews the offset by half the difference.
  t.same(offsetAndDelay(T, T + 30, T + 30, T + 40), { offsetMs: 10, delayMs: 40 });
});

t.test("a good reply becomes a sample with its root distance", async (t) => {
  const r = sampleOf("ntp.example", "192.0.2.1", nonce, reply(T + 1010, T + 1010), { sentMs: T, receivedMs: T + 20 });
  if (!("value" in r)) throw new Error(r.error);
  t.ok(Math.abs(r.value.offsetMs - 1000) < 0.001, `offset ${r.value.offsetMs}`);
  t.ok(Math.abs(r.value.delayMs - 20) < 0.001, `delay ${r.value.delayMs}`);
  t.equal(r.value.stratum, 2);
  t.ok(Math.abs(r.value.rootDistanceMs - (10 + 3.906 / 2 + 1.953)) < 0.01, `root distance ${r.value.rootDistanceMs}`);
});

t.test("a round trip that rounds below zero counts as no delay", async (t) => {
  // The server held it a hair longer than our round trip took (as the stamps round on a local responder): the four give -0.001 ms.
  const r = sampleOf("ntp.example", "127.0.0.1", nonce, reply(T + 1000, T + 1000.001), { sentMs: T, receivedMs: T });
  if (!("value" in r)) throw new Error(r.error);
  t.ok(offsetAndDelay(T, T + 1000, T + 1000.001, T).delayMs < 0, "the raw formula gives a delay below 0");
  t.equal(r.value.delayMs, 0, "the sample's delay is 0");
  t.ok(r.value.rootDistanceMs >= 0);
});

t.test("replies that must not set a clock are refused with the reason", async (t) => {
  const stamps = { sentMs: T, receivedMs: T + 20 };
  const refused = (r: NtpReply) => {
    const s = sampleOf("s", "192.0.2.1", nonce, r, stamps);
    return "error" in s ? s.error : "accepted";
  };
  t.match(refused(reply(T, T, {}, (b) => b.writeUInt8(0x23, 0))), /mode 3 in the reply, expected 4/);
  t.match(refused(reply(T, T, {}, (b) => b.fill(9, 24, 32))), /origin timestamp is not our request's/);
  t.match(refused(reply(T, T, { stratum: 0 }, (b) => b.write("DENY", 12, "latin1"))), /kiss-o'-death "DENY"/);
  t.match(refused(reply(T, T, { stratum: 16 })), /stratum 16: the server is not synchronized/);
  t.match(refused(reply(T, T, { leap: 3 })), /leap indicator 3/);
  t.match(refused(reply(T, T, {}, (b) => b.fill(0, 40, 48))), /transmit timestamp is zero/);
  t.match(refused(reply(T, T, {}, (b) => b.writeUInt32BE(0x00050000, 8))), /root distance \d+ ms exceeds 1500 ms/);
});

t.test("the best sample has the smallest root distance, then the lowest stratum", async (t) => {
  const s = (server: string, rootDistanceMs: number, stratum: number): Sample => ({ server, address: "", offsetMs: 0, delayMs: 0, stratum, rootDistanceMs });
  t.equal(bestSample([s("far", 80, 1), s("near", 5, 3), s("mid", 20, 2)])?.server, "near");
  t.equal(bestSample([s("b", 5, 3), s("a", 5, 2)])?.server, "a");
  t.equal(bestSample([]), undefined);
});
