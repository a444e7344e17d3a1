import t from "tap";
import { afterFailure, afterSuccess, initialPoll, nextDelayMs, POLL } from "../../../src/machined/time/poll.js";

t.test("a stable clock polls every 64 s, doubling to 1024 s", async (t) => {
  let s = initialPoll();
  const seen = [nextDelayMs(s)];
  for (let i = 0; i < 6; i++) {
    s = afterSuccess(s, 3);
    seen.push(nextDelayMs(s));
  }
  t.same(seen, [64_000, 128_000, 256_000, 512_000, 1_024_000, 1_024_000, 1_024_000]);
});

t.test("an offset beyond 128 ms brings the interval back to 64 s", async (t) => {
  const s = afterSuccess({ intervalMs: POLL.maxMs, failures: 0 }, -200);
  t.equal(nextDelayMs(s), 64_000);
});

t.test("failed rounds retry after 2 s, doubling, never beyond the interval", async (t) => {
  let s = initialPoll();
  const seen: number[] = [];
  for (let i = 0; i < 8; i++) {
    s = afterFailure(s);
    seen.push(nextDelayMs(s));
  }
  t.same(seen, [2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 64_000, 64_000]);
  t.equal(nextDelayMs(afterSuccess(s, 0)), 128_000, "a good round ends the backoff");
});
