// Where a VM finds its config at boot, for real: a URL on the kernel command
// line (served by this test on the host's loopback, which QEMU's user network
// shows the guest as 10.0.2.2), a config drive (vfat labelled KILN-CONFIG),
// and an invalid config, which leaves the machine in maintenance mode with
// its validation messages on the console. (fw_cfg is boot.test.ts's source.)
import { createServer, type Server } from "node:http";
import { readFileSync } from "node:fs";
import t from "tap";
import { BOOT_TIMEOUT_MS, consoleOf, createVmAsync, destroyVm, genCluster, kilnctl, onJson, skip, testImage } from "./vm-helpers.js";

/** Serves `body` at /config.yaml on 127.0.0.1; counts requests. */
async function serve(body: string): Promise<{ server: Server; port: number; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    if (req.url !== "/config.yaml") return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/yaml" }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  return { server, port: typeof addr === "object" && addr ? addr.port : 0, hits: () => hits };
}

t.test("config from a URL on the kernel command line", { skip, timeout: BOOT_TIMEOUT_MS + 60_000 }, async (t) => {
  const name = "vm-url";
  const cluster = genCluster(name, (m) => {
    m.hostname = "kiln-from-url";
  });
  const http = await serve(readFileSync(cluster.worker, "utf8"));
  t.teardown(() => {
    destroyVm(name);
    http.server.close();
  });
  const { vm, ran } = await createVmAsync(name, testImage(), ["--config-url", `http://10.0.2.2:${http.port}/config.yaml`]);
  t.ok(vm, `the machine came up: ${ran.stderr}`);
  if (!vm) return;
  t.ok(http.hits() >= 1, "the machine fetched the URL");
  t.match(consoleOf(vm), /config: cmdline-url: .*found/i, "the console says where the config came from");
  const host = await waitHostname(vm, cluster);
  t.equal(host, "kiln-from-url", "configured from the URL, over mTLS");
});

t.test("config from a config drive", { skip, timeout: BOOT_TIMEOUT_MS + 60_000 }, async (t) => {
  const name = "vm-drive";
  const cluster = genCluster(name, (m) => {
    m.hostname = "kiln-from-drive";
  });
  t.teardown(() => void destroyVm(name));
  const { vm, ran } = await createVmAsync(name, testImage(), ["--config", cluster.worker, "--config-via", "drive"]);
  t.ok(vm, `the machine came up: ${ran.stderr}`);
  if (!vm) return;
  t.match(consoleOf(vm), /config: config-drive: .*found/i, "found on the config drive");
  t.equal(await waitHostname(vm, cluster), "kiln-from-drive", "configured from the drive, over mTLS");
});

t.test("an invalid config stays in maintenance mode with its messages", { skip, timeout: BOOT_TIMEOUT_MS + 60_000 }, async (t) => {
  const name = "vm-invalid";
  const http = await serve("apiVersion: kiln/v1alpha1\nkind: MachineConfig\nmachine:\n  type: worker\n  hostname: -not-a-hostname-\n  bogusKey: 1\n");
  t.teardown(() => {
    destroyVm(name);
    http.server.close();
  });
  const { vm, ran } = await createVmAsync(name, testImage(), ["--config-url", `http://10.0.2.2:${http.port}/config.yaml`]);
  t.ok(vm, `the machine came up (in maintenance mode): ${ran.stderr}`);
  if (!vm) return;
  const v = kilnctl(["-e", vm.endpoint, "--insecure", "version", "-o", "json"], {}, 60_000);
  t.equal((JSON.parse(v.stdout) as { maintenance: boolean }).maintenance, true, "maintenance mode, not half-configured");
  const console = consoleOf(vm);
  t.match(console, /cmdline-url/, "the console names the source");
  t.match(console, /bogusKey/, "the console shows the validation messages");
  t.match(console, /hostname/, "every message, not just the first");
});

async function waitHostname(vm: { endpoint: string }, cluster: { kilnconfig: string }): Promise<string> {
  return onJson<{ hostname: string }>(vm as never, cluster as never, ["hostname"]).hostname;
}
