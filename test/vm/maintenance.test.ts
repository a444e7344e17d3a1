// A kiln VM booted without a config: maintenance mode (insecure TLS, pinned
// by the fingerprint on the console, serving only Version and
// ApplyConfiguration); apply-config --insecure configures it; then only
// mTLS answers.
import t from "tap";
import { BOOT_TIMEOUT_MS, consoleOf, createVm, destroyVm, genCluster, kilnctl, on, skip, testImage, waitFor } from "./vm-helpers.js";

const name = "vm-maintenance";

t.test("maintenance mode, then apply-config over the network", { skip, timeout: 2 * BOOT_TIMEOUT_MS }, async (t) => {
  const image = testImage();
  const cluster = genCluster(name, (m) => {
    m.hostname = "kiln-applied";
  });
  t.teardown(() => void destroyVm(name));
  const vm = createVm(name, image);
  const insecure = (args: string[]) => kilnctl(["-e", vm.endpoint, "--insecure", ...args], {}, 60_000);

  const v = insecure(["version", "-o", "json"]);
  t.equal(v.code, 0, `version answers insecurely: ${v.stderr}`);
  t.equal((JSON.parse(v.stdout) as { maintenance: boolean }).maintenance, true, "in maintenance mode");
  const fp = /apid certificate fingerprint ([0-9a-f]{64})/.exec(consoleOf(vm))?.[1];
  t.ok(fp, "the console shows apid's certificate fingerprint");
  t.not(insecure(["services"]).code, 0, "maintenance mode serves nothing but Version and ApplyConfiguration");
  const wrong = insecure(["version", "--cert-fingerprint", "0".repeat(64)]);
  t.not(wrong.code, 0, "a wrong pinned fingerprint is refused");

  const applied = insecure(["apply-config", "--cert-fingerprint", fp!, "--file", cluster.worker]);
  t.equal(applied.code, 0, `apply-config --insecure: ${applied.stderr}`);

  const host = await waitFor(
    "mTLS to answer with the applied config",
    () => {
      const r = on(vm, cluster, ["hostname", "-o", "json"]);
      return r.code === 0 ? (JSON.parse(r.stdout) as { hostname: string }).hostname : undefined;
    },
    120_000,
    1000,
  );
  t.equal(host, "kiln-applied", "the applied config is live, over mTLS");
  await waitFor("insecure access to end", () => insecure(["version"]).code !== 0, 60_000, 1000);
  t.pass("without a client certificate the machine no longer answers");
});
