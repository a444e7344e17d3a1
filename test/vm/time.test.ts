// A kiln VM whose clock starts a year slow (QEMU's -rtc base=, through
// cluster create --rtc-base) and whose machine.time.servers is a chronyd on
// the host, 10.0.2.2 through QEMU's user-mode network: machined steps the
// clock at its first sync, and kilnctl time shows the server and the offset.
// Until the step the machine's clock is before its certificates, so the API
// answers only once apid has been restarted after it.
import t from "tap";
import { ntpServerPrereqs, startNtpServer } from "./ntp-server.js";
import { BOOT_TIMEOUT_MS, consoleOf, createVm, destroyVm, genCluster, onJson, skip, testImage, waitFor } from "./vm-helpers.js";

const name = "vm-time";
const dayMs = 86_400_000;

interface TimeJson {
  servers: string[];
  localtime: string;
  state: string;
  server: string;
  offsetMs: number | null;
  lastSync: string | null;
  correction: string;
}

/** QEMU's -rtc base= for `days` ago, to the second (UTC). */
function daysAgo(days: number): string {
  return new Date(Date.now() - days * dayMs).toISOString().slice(0, 19);
}

t.test("a clock a year slow is stepped to the NTP server's time", { skip: skip || ntpServerPrereqs(), timeout: 2 * BOOT_TIMEOUT_MS }, async (t) => {
  const ntp = await startNtpServer();
  t.teardown(() => ntp.stop());
  const image = testImage();
  const cluster = genCluster(name, (m) => {
    m.time = { servers: ["10.0.2.2"] };
  });
  t.teardown(() => void destroyVm(name));
  const vm = createVm(name, image, ["--config", cluster.worker, "--rtc-base", daysAgo(366)]);
  const answered = Date.now();

  const time = await waitFor(
    "the machine's clock within 10 s of the host's",
    () => {
      const now = onJson<TimeJson>(vm, cluster, ["time"]);
      return now.state === "synchronized" && Math.abs(Date.parse(now.localtime) - Date.now()) < 10_000 ? now : undefined;
    },
    30_000,
    1_000,
  );
  t.ok(Date.now() - answered <= 30_000, `corrected ${((Date.now() - answered) / 1000).toFixed(1)} s after the API answered`);
  t.same(time.servers, ["10.0.2.2"]);
  t.equal(time.server, "10.0.2.2", "the host's chronyd");
  t.ok(time.lastSync && Math.abs(Date.parse(time.lastSync) - Date.now()) < 5 * 60_000, `last sync ${time.lastSync}, by the corrected clock`);

  // The first sample stepped the clock by the year; later ones (every 64 s) slew and replace it.
  const stepped = consoleOf(vm).match(/time: stepped the clock by \+(\d+\.\d{3}) s \(10\.0\.2\.2, delay ([\d.]+) ms/);
  t.ok(stepped, "machined's console names the step");
  const stepS = Number(stepped?.[1] ?? 0);
  t.ok(Math.abs(stepS - 366 * 86_400) < 600, `stepped by ${stepS} s, 366 days give or take the boot`);
  t.ok(time.offsetMs !== null, `kilnctl time -o json shows an offset (${time.offsetMs} ms, ${time.correction})`);
  t.comment(`step ${stepS} s; delay ${stepped?.[2]} ms; now offset ${time.offsetMs} ms by ${time.correction}`);
});
