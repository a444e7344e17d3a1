import t from "tap";
import { defaultBackoff, formatDelay, nextDelay } from "../../../src/machined/supervisor/backoff.js";

t.test("starts at 100 ms and doubles up to 30 s", async (t) => {
  const delays: number[] = [];
  let d = 0;
  for (let i = 0; i < 12; i++) {
    d = nextDelay(d, 50, defaultBackoff);
    delays.push(d);
  }
  t.same(delays, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000]);
});

t.test("resets after a run of at least 10 s", async (t) => {
  t.equal(nextDelay(25600, 9999, defaultBackoff), 30000);
  t.equal(nextDelay(25600, 10_000, defaultBackoff), 100);
});

t.test("shows delays in seconds with one decimal", async (t) => {
  t.equal(formatDelay(3200), "3.2s");
  t.equal(formatDelay(100), "0.1s");
  t.equal(formatDelay(30000), "30.0s");
});
