import t from "tap";
import { correctionFor, slewClock, stepClock, timeConstant } from "../../../src/machined/time/clock.js";
import { createFakeSys } from "../../../src/sys/fake.js";
import { ADJ, CLOCK, STA } from "../../../src/sys/sys.js";

const ctx = { pollMs: 64_000, maxErrorMs: 12.5, estErrorMs: 2.25 };

t.test("until the first correction a boot steps from 0.5 s, afterwards only from 5 s", async (t) => {
  t.equal(correctionFor(499, false), "slew");
  t.equal(correctionFor(-500, false), "step");
  t.equal(correctionFor(365 * 86_400_000, false), "step");
  t.equal(correctionFor(4_999, true), "slew");
  t.equal(correctionFor(-5_000, true), "step");
});

t.test("a step sets CLOCK_REALTIME to now plus the offset, then tells the PLL the clock is synchronized", async (t) => {
  const sys = createFakeSys();
  sys.respond("clockGettime", () => 1_700_000_000_000_000_000n);
  stepClock(sys, -1_500.25, ctx);
  t.same(sys.argsOf("clockSettime"), [[CLOCK.REALTIME, 1_700_000_000_000_000_000n - 1_500_250_000n]]);
  const [tx] = sys.argsOf("adjtimex")[0] as [{ offset: number; status: number }];
  t.equal(tx.offset, 0, "nothing left to slew");
  t.equal(tx.status, STA.PLL, "PLL on, STA_UNSYNC cleared");
});

t.test("a slew hands the offset in ns to the PLL with the poll's time constant and the error bounds", async (t) => {
  const sys = createFakeSys();
  slewClock(sys, 3.5, ctx);
  t.same(sys.argsOf("adjtimex"), [
    [{ modes: ADJ.OFFSET | ADJ.STATUS | ADJ.NANO | ADJ.TIMECONST | ADJ.MAXERROR | ADJ.ESTERROR, offset: 3_500_000, freq: 0, maxerror: 12_500, esterror: 2_250, status: STA.PLL, constant: 2 }],
  ]);
  t.equal(sys.argsOf("clockSettime").length, 0, "no step");
});

t.test("a slew beyond the PLL's 0.5 s is clamped to it", async (t) => {
  const sys = createFakeSys();
  slewClock(sys, -2_000, ctx);
  t.equal((sys.argsOf("adjtimex")[0]![0] as { offset: number }).offset, -500_000_000);
});

t.test("the time constant is log2 of the poll in seconds, less 4", async (t) => {
  t.same([64_000, 128_000, 1_024_000, 2_000].map(timeConstant), [2, 3, 6, 0]);
});
