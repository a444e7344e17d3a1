// The lifecycle's lock on a real VM: a reboot that arrives while boot is
// still looking for its config (a URL whose server holds the request)
// preempts the boot at once; the machine comes back, configured, and its
// boot ran to its end. The reboot comes as a console's ctrl-alt-del (QEMU's
// monitor), which the kernel hands to PID 1 as SIGINT: the API is not up yet.
import { readFileSync } from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import { connect } from "node:net";
import t from "tap";
import { vmLayout } from "../../src/provision/qemu/state.js";
import { BOOT_TIMEOUT_MS, consoleOf, createVmAsync, destroyVm, genCluster, onJson, skip, testImage, waitFor } from "./vm-helpers.js";

/** Serves `body` at /config.yaml, but holds the first request open until the test ends. */
async function holdFirst(body: string) {
  const held: ServerResponse[] = [];
  let hits = 0;
  const server = createServer((_req, res) => {
    if (hits++ === 0) return void held.push(res);
    res.writeHead(200, { "content-type": "application/yaml" }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  const close = () => {
    for (const r of held) r.destroy();
    server.closeAllConnections();
    server.close();
  };
  return { port: typeof addr === "object" && addr ? addr.port : 0, hits: () => hits, close };
}

/** Sends one command to QEMU's human monitor. */
function monitor(socket: string, command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(socket, () => s.end(`${command}\n`, () => setTimeout(resolve, 200)));
    s.on("error", reject);
  });
}

interface Timeline {
  runs: { sequence: string; result: string; durationMs?: number; phases: { name: string; startMs?: number; durationMs?: number }[] }[];
}

t.test("a reboot during boot preempts it; the machine comes back configured", { skip, timeout: 2 * BOOT_TIMEOUT_MS + 60_000 }, async (t) => {
  const name = "vm-preempt";
  const cluster = genCluster(name, (m) => {
    m.hostname = "kiln-preempted";
  });
  const http = await holdFirst(readFileSync(cluster.worker, "utf8"));
  t.teardown(() => {
    destroyVm(name);
    http.close();
  });
  const creating = createVmAsync(name, testImage(), ["--config-url", `http://10.0.2.2:${http.port}/config.yaml`]);
  // Boot is in its config phase, waiting on the held request.
  await waitFor("the first request for the config", () => http.hits() >= 1, BOOT_TIMEOUT_MS, 250);
  const layout = vmLayout(name);
  const before = readFileSync(layout.consoleLog, "utf8").length;
  await monitor(layout.monitor, "sendkey ctrl-alt-delete");
  const { vm, ran } = await creating;
  t.ok(vm, `the machine came back: ${ran.stderr}`);
  if (!vm) return;
  const after = consoleOf(vm).slice(before);
  t.match(after, /boot: preempted by reboot/, "the boot stopped at its task boundary");
  t.match(after, /reboot: calling reboot\(2\)/, "and the machine went down through reboot(2)");
  t.ok(http.hits() >= 2, "the next boot fetched the config again");
  const tl = onJson<Timeline>(vm, cluster, ["get", "sequences"]);
  t.equal(tl.runs[0]?.sequence, "boot");
  t.equal(tl.runs[0]?.result, "ok", "the boot after the reboot ran to its end");
  const boot = tl.runs[0];
  t.comment(`boot ${boot?.durationMs ?? 0} ms: ${(boot?.phases ?? []).map((p) => `${p.name} ${p.durationMs ?? 0} ms`).join(", ")}`);
  t.equal(onJson<{ hostname: string }>(vm, cluster, ["hostname"]).hostname, "kiln-preempted");
});
