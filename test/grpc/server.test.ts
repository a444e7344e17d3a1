// grpcImplementation's call context against a real grpc-js server and client
// on a unix socket: its signal is made when a handler first reads it, and is
// already aborted when the caller gave up before that read.
import { join } from "node:path";
import { credentials, Server, ServerCredentials } from "@grpc/grpc-js";
import t, { type Test } from "tap";
import { MachineService } from "../../src/gen/kiln/machine/v1/machine_pb.js";
import { createClient } from "../../src/grpc/client.js";
import { grpcImplementation, type ServiceImpl } from "../../src/grpc/server.js";
import { scratchDir } from "../fixtures/scratch.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function serve(t: Test, impl: Partial<ServiceImpl<typeof MachineService.method>>) {
  const socket = join(scratchDir("kiln-grpc-server-"), "s.sock");
  const server = new Server();
  const { definition, implementation } = grpcImplementation(MachineService, impl as ServiceImpl<typeof MachineService.method>);
  server.addService(definition, implementation);
  await new Promise<void>((ok, fail) => server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) => (err ? fail(err) : ok())));
  const client = createClient(MachineService, `unix://${socket}`, credentials.createInsecure());
  t.teardown(() => {
    client.close();
    server.forceShutdown();
  });
  return client;
}

t.test("a handler that reads its signal only after the caller's deadline finds it aborted", async (t) => {
  let seen: { aborted: boolean; reason: unknown } | undefined;
  let done!: () => void;
  const read = new Promise<void>((r) => (done = r));
  const client = await serve(t, {
    version: async (_req, ctx) => {
      await sleep(300);
      seen = { aborted: ctx.signal.aborted, reason: ctx.signal.reason };
      done();
      return { messages: [] };
    },
  });
  await t.rejects(client.version({}, { timeoutMs: 50 }), /deadline/i, "the caller gave up");
  await read;
  t.equal(seen?.aborted, true, "the signal made after the cancel is aborted");
  t.match(String((seen?.reason as Error)?.message), /cancelled by the client/);
});

t.test("a handler that reads its signal at once sees the caller's cancel while it waits", async (t) => {
  let aborted!: (v: boolean) => void;
  const outcome = new Promise<boolean>((r) => (aborted = r));
  const client = await serve(t, {
    version: async (_req, ctx) => {
      const signal = ctx.signal;
      t.notOk(signal.aborted, "not aborted while the caller waits");
      const gone = await Promise.race([new Promise<boolean>((r) => signal.addEventListener("abort", () => r(true))), new Promise<boolean>((r) => setTimeout(() => r(false), 5000).unref())]);
      aborted(gone);
      return { messages: [] };
    },
  });
  const ac = new AbortController();
  const call = client.version({}, { signal: ac.signal });
  await sleep(100);
  ac.abort();
  await t.rejects(call, /cancel/i);
  t.equal(await outcome, true, "the abort reached the handler");
});

t.test("many calls whose handlers never read the signal all answer", async (t) => {
  const client = await serve(t, { version: async () => ({ messages: [{ tag: "v1" }] }) });
  const answers = await Promise.all(Array.from({ length: 50 }, () => client.version({})));
  t.same(new Set(answers.map((a) => a.messages[0]?.tag)), new Set(["v1"]));
});
