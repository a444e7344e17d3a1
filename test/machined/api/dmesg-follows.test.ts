// The figure from issue 11: a reader opening thousands of Dmesg follows took
// machined from 28 to 3,030 fds and made Version time out. Here the real
// server and the real kernel log reader serve this host's /dev/kmsg.
import { readdirSync, readlinkSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import t from "tap";
import { MachineService } from "../../../src/gen/kiln/machine/v1/machine_pb.js";
import { createClient } from "../../../src/grpc/client.js";
import { Code } from "../../../src/grpc/errors.js";
import { startMachineApi } from "../../../src/machined/api/server.js";
import { createKernelLog } from "../../../src/machined/inspect/dmesg.js";
import { maxOpenStreams } from "../../../src/machinery/api-limits.js";
import { kmsgReadable } from "../helpers.js";
import { createFakeMachine } from "./fixtures/fake-machine.js";


/** Our open fds: all of them, and those on /dev/kmsg. */
function fds(): { all: number; kmsg: number } {
  const links = readdirSync("/proc/self/fd").map((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return "";
    }
  });
  return { all: links.length, kmsg: links.filter((l) => l === "/dev/kmsg").length };
}

/** The real server over a machine whose kernel log is this host's, and a client. */
async function serveKernelLog(t: { teardown(fn: () => unknown): void }, maxStreams?: number) {
  const dir = await mkdtemp(join(tmpdir(), "kiln-dmesg-"));
  const socket = join(dir, "machined.sock");
  const kernelLog = createKernelLog({ path: "/dev/kmsg", pollMs: 250 });
  const machine = { ...createFakeMachine(), dmesg: kernelLog.read };
  const api = await startMachineApi(machine, socket, { node: () => "node-a", closeGraceMs: 100, ...(maxStreams ? { maxStreams } : {}) });
  const client = createClient(MachineService, `unix://${socket}`, credentials.createInsecure());
  t.teardown(async () => {
    client.close();
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { client, kernelLog };
}

type Outcome = "open" | Code;
type Client = Awaited<ReturnType<typeof serveKernelLog>>["client"];

/** Starts `n` Dmesg follows of the buffer's last `tail` records; each resolves "open" at its first message (and goes on reading) or with the code that refused it. */
function follows(client: Client, n: number, signal: AbortSignal, tail = -1): Promise<Outcome>[] {
  return Array.from({ length: n }, () => new Promise<Outcome>((resolve) => {
    void (async () => {
      try {
        for await (const _ of client.dmesg({ follow: true, tail }, { signal })) resolve("open");
      } catch (err) {
        resolve((err as { code: Code }).code);
      }
    })();
  }));
}

/** How long a Version call takes, in ms. */
async function versionMs(client: Client): Promise<number> {
  const started = performance.now();
  await client.version({}, { timeoutMs: 5000 });
  return performance.now() - started;
}

const skip = !kmsgReadable() && "/dev/kmsg is not readable here";
t.setTimeout(120_000);

t.test("1000 Dmesg follows: 256 are served over one /dev/kmsg fd, the rest refused, and Version answers within 1 s", { skip }, async (t) => {
  const { client, kernelLog } = await serveKernelLog(t);
  await client.version({});
  const before = fds();
  const ac = new AbortController();
  // A follow's first message means it holds its place; the refused ones end at once.
  const outcomes = await Promise.all(follows(client, 1000, ac.signal));
  t.equal(outcomes.filter((o) => o === "open").length, maxOpenStreams, "256 follows are open");
  t.equal(outcomes.filter((o) => o === Code.RESOURCE_EXHAUSTED).length, 1000 - maxOpenStreams, "the rest are refused with RESOURCE_EXHAUSTED");
  const during = fds();
  t.equal(during.kmsg, 1, "exactly one fd on /dev/kmsg");
  t.ok(during.all - before.all < 20, `fds grew by ${during.all - before.all} (< 20)`);
  t.equal(kernelLog.stats().followers, maxOpenStreams);
  const ms = await versionMs(client);
  t.ok(ms < 1000, `Version answered in ${ms.toFixed(0)} ms`);
  ac.abort();
  for (let i = 0; i < 100 && kernelLog.stats().open; i++) await new Promise((r) => setTimeout(r, 20));
  t.same(kernelLog.stats(), { followers: 0, open: false }, "the last follower to leave closed the device");
  t.equal(fds().kmsg, 0);
});

t.test("1000 Dmesg follows under a raised cap still hold one /dev/kmsg fd, and Version answers within 1 s", { skip }, async (t) => {
  const { client, kernelLog } = await serveKernelLog(t, 1000);
  await client.version({});
  const before = fds();
  const ac = new AbortController();
  const outcomes = await Promise.all(follows(client, 1000, ac.signal, 1));
  t.equal(outcomes.filter((o) => o === "open").length, 1000, "all 1000 are open");
  const during = fds();
  t.equal(during.kmsg, 1, "exactly one fd on /dev/kmsg");
  t.ok(during.all - before.all < 100, `fds grew by ${during.all - before.all} (< 100; it was one per follow before the shared reader)`);
  const ms = await versionMs(client);
  t.ok(ms < 1000, `Version answered in ${ms.toFixed(0)} ms`);
  ac.abort();
  for (let i = 0; i < 100 && kernelLog.stats().open; i++) await new Promise((r) => setTimeout(r, 20));
  t.same(kernelLog.stats(), { followers: 0, open: false });
});
