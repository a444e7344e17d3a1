import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import { credentials } from "@grpc/grpc-js";
import t from "tap";
import { MachineService } from "../../../src/gen/kiln/machine/v1/machine_pb.js";
import { createClient } from "../../../src/grpc/client.js";
import { type ApiError, Code } from "../../../src/grpc/errors.js";
import { startMachineApi } from "../../../src/machined/api/server.js";
import { createStreamGate } from "../../../src/machined/api/stream-limit.js";
import { maxOpenStreams } from "../../../src/machinery/api-limits.js";
import { createFakeMachine } from "./fixtures/fake-machine.js";

type Client = ReturnType<typeof createClient<typeof MachineService extends GenService<infer M> ? M : never>>;

/** The API on two sockets with a cap of `maxStreams`, and a client for each. */
async function twoSockets(t: { teardown(fn: () => unknown): void }, maxStreams: number) {
  const dir = await mkdtemp(join(tmpdir(), "kiln-streams-"));
  const paths = [join(dir, "a", "machined.sock"), join(dir, "b", "apid.sock")];
  const api = await startMachineApi(createFakeMachine(), paths.map((path) => ({ path })), { node: () => "node-a", closeGraceMs: 100, maxStreams });
  const clients = paths.map((p) => createClient(MachineService, `unix://${p}`, credentials.createInsecure()));
  t.teardown(async () => {
    for (const c of clients) c.close();
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });
  return clients as [Client, Client];
}

/** A Dmesg follow that has sent its first message, with its cancel and its end (the error that ended it, if any). */
async function follow(client: Client) {
  const ac = new AbortController();
  const it = client.dmesg({ follow: true, tail: -1 }, { signal: ac.signal })[Symbol.asyncIterator]();
  await it.next();
  const ended = (async () => {
    try {
      while (!(await it.next()).done);
    } catch (err) {
      return err as ApiError;
    }
    return undefined;
  })();
  return { cancel: () => ac.abort(), ended };
}

/** The error that ends a stream before its first message. */
async function refusal(stream: AsyncIterable<unknown>): Promise<ApiError | undefined> {
  try {
    for await (const _ of stream) return undefined;
  } catch (err) {
    return err as ApiError;
  }
  return undefined;
}

t.test("the cap is 256 streams", async (t) => {
  t.equal(maxOpenStreams, 256);
});

t.test("a stream past the cap over both sockets is refused with RESOURCE_EXHAUSTED naming it; a closed one frees its place", async (t) => {
  const [a, b] = await twoSockets(t, 3);
  const open = [await follow(a), await follow(a), await follow(b)];
  for (const c of [a, b]) {
    const err = await refusal(c.dmesg({ follow: true, tail: -1 }));
    t.equal(err?.code, Code.RESOURCE_EXHAUSTED);
    t.match(err?.message, /^machined serves at most 3 streams at once \(Logs, Events, Dmesg, List, Read, Upgrade\)/);
  }
  t.equal((await refusal(a.events({ follow: true, tailEvents: 0 })))?.code, Code.RESOURCE_EXHAUSTED, "every kind of stream counts");
  t.equal((await a.version({})).messages.length, 1, "unary calls still answer");
  open[0]!.cancel();
  await open[0]!.ended;
  let again: Awaited<ReturnType<typeof follow>> | undefined;
  for (let i = 0; i < 50 && !again; i++) {
    again = await follow(b).catch(() => undefined);
    if (!again) await new Promise((r) => setTimeout(r, 20));
  }
  t.ok(again, "a new follow gets the freed place");
  for (const f of [...open.slice(1), again!]) f.cancel();
});

t.test("streams that end leave their place", async (t) => {
  const [a] = await twoSockets(t, 2);
  for (let i = 0; i < 10; i++) t.equal(await refusal(a.dmesg({ follow: false, tail: 1 })), undefined);
});

t.test("the gate counts each stream once, however often it leaves", async (t) => {
  const gate = createStreamGate(1);
  const leave = gate.enter();
  t.throws(() => gate.enter(), { name: "MachineError", message: /at most 1 streams/ });
  leave();
  leave();
  t.equal(gate.open(), 0);
  gate.enter();
  t.throws(() => gate.enter(), { name: "MachineError", message: /at most 1 streams/ });
});
