import { spawnSync } from "node:child_process";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { durationFromMs, timestampDate } from "@bufbuild/protobuf/wkt";
import { credentials } from "@grpc/grpc-js";
import t from "tap";
import { failure, serveMachine } from "./fixtures/serve.js";
import { ApplyMode, MachineEvent_Stage, MachineService, RebootMode, ServiceState } from "../../../src/gen/kiln/machine/v1/machine_pb.js";
import { createClient } from "../../../src/grpc/client.js";
import { type ApiError, Code } from "../../../src/grpc/errors.js";
import { startMachineApi } from "../../../src/machined/api/server.js";
import { MachineError, type MachineErrorKind } from "../../../src/machined/errors.js";
import { createFakeMachine, } from "./fixtures/fake-machine.js";

/** A server for a fresh fake machine on a temp socket, and a client for it. */
const setup = serveMachine;


/** Reads a stream to its end; resolves with the error that ended it, if any. */
async function drain(stream: AsyncIterable<unknown>): Promise<ApiError | undefined> {
  try {
    for await (const _ of stream);
  } catch (err) {
    return err as ApiError;
  }
  return undefined;
}

/** Resolves once `check` holds, polling. */
async function eventually(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

t.test("answers Version with the machine's version and the node name", async (t) => {
  const { client } = await setup(t);
  const res = await client.version({});
  t.equal(res.messages.length, 1);
  t.match(res.messages[0], { metadata: { node: "node-a" }, tag: "0.1.0", platform: "sandbox", kernel: "6.1.0", maintenance: false });
});

t.test("lists services with their state, health and times", async (t) => {
  const { client } = await setup(t);
  const [list] = (await client.serviceList({})).messages;
  t.equal(list?.metadata?.node, "node-a");
  const [containerd, kubelet] = list?.services ?? [];
  t.match(containerd, { id: "containerd", state: ServiceState.RUNNING, pid: 42, message: "started" });
  t.match(containerd?.health, { unknown: false, healthy: true, lastMessage: "ok" });
  t.equal(timestampDate(containerd!.since!).toISOString(), "2024-05-01T10:00:00.000Z");
  t.match(kubelet, { id: "kubelet", state: ServiceState.WAITING, dependsOn: ["containerd"] });
  t.equal(kubelet?.health?.unknown, true);
});

t.test("starts, stops and restarts a service and reports each result", async (t) => {
  const { client, machine } = await setup(t);
  t.match((await client.serviceStart({ id: "kubelet" })).messages[0], { id: "kubelet", result: "service kubelet started" });
  t.match((await client.serviceStop({ id: "kubelet" })).messages[0], { metadata: { node: "node-a" }, result: "service kubelet stopped" });
  t.match((await client.serviceRestart({ id: "kubelet" })).messages[0], { result: "service kubelet restarted" });
  t.same(machine.calls, ["start kubelet", "stop kubelet", "restart kubelet"]);
});

t.test("answers the facade's not-found for an unknown service with NOT_FOUND", async (t) => {
  const { client } = await setup(t);
  const err = await failure(client.serviceStop({ id: "nope" }));
  t.equal(err.code, Code.NOT_FOUND);
  t.equal(err.message, 'service "nope" not found');
});

t.test("answers each kind of machine error with its status and message, on calls and streams", async (t) => {
  const kinds: [MachineErrorKind, Code][] = [
    ["invalid", Code.INVALID_ARGUMENT],
    ["busy", Code.FAILED_PRECONDITION],
    ["refused", Code.FAILED_PRECONDITION],
    ["not-found", Code.NOT_FOUND],
    ["forbidden", Code.PERMISSION_DENIED],
    ["exhausted", Code.RESOURCE_EXHAUSTED],
    ["unavailable", Code.UNAVAILABLE],
    ["cancelled", Code.CANCELLED],
  ];
  const machine = createFakeMachine();
  let next: MachineError = new MachineError("invalid", "");
  machine.services = () => {
    throw next;
  };
  machine.logs = async function* () {
    yield new TextEncoder().encode("a line before the failure\n");
    throw next;
  };
  const { client } = await setup(t, machine);
  for (const [kind, code] of kinds) {
    next = new MachineError(kind, `the machine says ${kind}`);
    t.match(await failure(client.serviceList({})), { code, message: `the machine says ${kind}` }, `unary ${kind}`);
    t.match(await drain(client.logs({ id: "containerd" })), { code, message: `the machine says ${kind}` }, `stream ${kind}`);
  }
});

t.test("refuses an empty service id with INVALID_ARGUMENT", async (t) => {
  const { client, machine } = await setup(t);
  t.equal((await failure(client.serviceStart({ id: "" }))).code, Code.INVALID_ARGUMENT);
  t.same(machine.calls, []);
});

t.test("turns an unexpected facade error into INTERNAL with its message", async (t) => {
  const machine = createFakeMachine();
  machine.services = () => {
    throw new Error("supervisor exploded");
  };
  const { client } = await setup(t, machine);
  const err = await failure(client.serviceList({}));
  t.equal(err.code, Code.INTERNAL);
  t.equal(err.message, "supervisor exploded");
});

t.test("streams the tail of a service log and ends when not following", async (t) => {
  const { client } = await setup(t);
  const chunks: string[] = [];
  for await (const res of client.logs({ id: "containerd", tailLines: 2 })) {
    t.equal(res.metadata?.node, "node-a");
    chunks.push(new TextDecoder().decode(res.data));
  }
  t.same(chunks, ["line 2\n", "line 3\n"]);
});

t.test("fails a log stream for an unknown service with NOT_FOUND", async (t) => {
  const { client } = await setup(t);
  t.equal((await drain(client.logs({ id: "nope", tailLines: -1 })))?.code, Code.NOT_FOUND);
});

t.test("follows a log until the client cancels, and the machine sees the cancellation", async (t) => {
  const { client, machine } = await setup(t);
  const ac = new AbortController();
  const seen: string[] = [];
  const done = (async () => {
    for await (const res of client.logs({ id: "kubelet", follow: true, tailLines: -1 }, { signal: ac.signal })) {
      seen.push(new TextDecoder().decode(res.data));
      if (seen.length === 2) ac.abort();
    }
  })();
  await new Promise((r) => setTimeout(r, 100));
  machine.pushLog("kubelet", "hello\n");
  machine.pushLog("kubelet", "world\n");
  await done.catch((err: ApiError) => t.equal(err.code, Code.CANCELLED));
  t.same(seen, ["hello\n", "world\n"]);
  await eventually(() => machine.aborted.includes("logs kubelet"));
});

t.test("streams events of every kind, resuming after since_id", async (t) => {
  const { client, machine } = await setup(t);
  machine.pushEvent({ t: "machine", stage: "booting", message: "boot" });
  machine.pushEvent({ t: "sequence", sequence: "boot", phase: "", task: "", action: "start", error: "", durationMs: 0 });
  machine.pushEvent({ t: "service", id: "containerd", state: "Running", message: "started", healthy: null, healthMessage: "" });
  machine.pushEvent({ t: "config", source: "api", accepted: false, errors: ["bad"], warnings: [], message: "rejected" });
  const all = [];
  for await (const e of client.events({ tailEvents: -1 })) all.push(e);
  t.same(all.map((e) => [e.id, e.payload.case]), [[1n, "machine"], [2n, "sequence"], [3n, "service"], [4n, "config"]]);
  t.match(all[0]?.payload.value, { stage: MachineEvent_Stage.BOOTING });
  t.match(all[2]?.payload.value, { id: "containerd", state: ServiceState.RUNNING, health: { unknown: true } });
  t.match(all[3]?.payload.value, { accepted: false, errors: ["bad"] });
  t.ok(all[0]?.time);
  const resumed = [];
  for await (const e of client.events({ sinceId: 2n })) resumed.push(e.id);
  t.same(resumed, [3n, 4n]);
});

t.test("follows events until the client cancels", async (t) => {
  const { client, machine } = await setup(t);
  const ac = new AbortController();
  const ids: bigint[] = [];
  const done = (async () => {
    for await (const e of client.events({ follow: true }, { signal: ac.signal })) {
      ids.push(e.id);
      ac.abort();
    }
  })();
  await new Promise((r) => setTimeout(r, 100));
  machine.pushEvent({ t: "machine", stage: "running", message: "up" });
  await done.catch(() => undefined);
  t.same(ids, [1n]);
  await eventually(() => machine.aborted.includes("events"));
});

t.test("reboots in the requested mode and shuts down with force", async (t) => {
  const { client, machine } = await setup(t);
  t.equal((await client.reboot({})).messages[0]?.metadata?.node, "node-a");
  await client.reboot({ mode: RebootMode.POWERCYCLE, force: true });
  await client.shutdown({ force: true });
  t.same(machine.calls, ["reboot default false", "reboot powercycle true", "shutdown true"]);
});

t.test("resets with the requested wipe targets, stop and power action", async (t) => {
  const { client, machine } = await setup(t);
  t.equal((await client.reset({})).messages[0]?.metadata?.node, "node-a");
  await client.reset({ graceful: true, reboot: true, wipe: ["ephemeral"] });
  t.same(machine.calls, ["reset graceful=false reboot=false wipe=", "reset graceful=true reboot=true wipe=ephemeral"]);
});

t.test("applies a config, mapping modes, dry runs and try timeouts", async (t) => {
  const { client, machine } = await setup(t);
  const data = new TextEncoder().encode("machine: {}\n");
  const [res] = (await client.applyConfiguration({ data })).messages;
  t.match(res, { mode: ApplyMode.NO_REBOOT, modeDetails: "applied live: hostname", changes: ["machine.hostname"], warnings: ["machine.env is empty"] });
  await client.applyConfiguration({ data, mode: ApplyMode.TRY, dryRun: true });
  await client.applyConfiguration({ data, mode: ApplyMode.TRY, tryTimeout: durationFromMs(5000) });
  await client.applyConfiguration({ data, mode: ApplyMode.STAGED, tryTimeout: durationFromMs(5000) });
  t.same(
    machine.applied.map((a) => [a.mode, a.dryRun, a.tryTimeoutMs]),
    [["auto", false, 0], ["try", true, 60000], ["try", false, 5000], ["staged", false, 0]],
  );
  t.equal(machine.applied[0]?.yaml, "machine: {}\n");
});

t.test("passes INVALID_ARGUMENT through for a config that fails validation", async (t) => {
  const { client } = await setup(t);
  const err = await failure(client.applyConfiguration({ data: new TextEncoder().encode("invalid: 1\n") }));
  t.equal(err.code, Code.INVALID_ARGUMENT);
  t.match(err.message, /machine.hostname: expected a string/);
});

t.test("refuses an empty or non-UTF-8 config", async (t) => {
  const { client } = await setup(t);
  t.equal((await failure(client.applyConfiguration({ data: new Uint8Array() }))).code, Code.INVALID_ARGUMENT);
  t.equal((await failure(client.applyConfiguration({ data: new Uint8Array([0xff, 0xfe]) }))).code, Code.INVALID_ARGUMENT);
});

t.test("returns the config as YAML, and NOT_FOUND in maintenance mode", async (t) => {
  const { client, machine } = await setup(t);
  const [res] = (await client.getConfiguration({})).messages;
  t.equal(new TextDecoder().decode(res?.data), machine.config);
  machine.config = undefined;
  const err = await failure(client.getConfiguration({}));
  t.equal(err.code, Code.NOT_FOUND);
  t.match(err.message, /maintenance mode/);
});

t.test("serves on a 0600 socket in a 0700 directory it creates", async (t) => {
  const { socket, dir } = await setup(t);
  t.equal((await stat(socket)).mode & 0o777, 0o600);
  t.ok((await stat(socket)).isSocket());
  t.equal((await stat(join(dir, "run"))).mode & 0o777, 0o700);
});

t.test("removes a stale socket left by a previous run", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "kiln-api-"));
  const socket = join(dir, "machined.sock");
  // A process killed while listening leaves its socket file behind.
  const script = `require("net").createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, "SIGKILL"))`;
  spawnSync(process.execPath, ["-e", script]);
  t.ok((await stat(socket)).isSocket(), "the stale socket exists");
  const api = await startMachineApi(createFakeMachine(), socket, { node: () => "n" });
  t.teardown(async () => {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });
  const client = createClient(MachineService, `unix://${socket}`, credentials.createInsecure());
  t.teardown(() => client.close());
  t.equal((await client.version({})).messages[0]?.metadata?.node, "n");
});

t.test("refuses a socket path another server is listening on", async (t) => {
  const { socket } = await setup(t);
  await t.rejects(startMachineApi(createFakeMachine(), socket), /another server is listening/);
});

t.test("refuses a socket path that is not a socket", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "kiln-api-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, "machined.sock"), "");
  await t.rejects(startMachineApi(createFakeMachine(), join(dir, "machined.sock")), /not a socket/);
});

t.test("close cancels open streams and removes the socket", async (t) => {
  const { client, machine, api, socket } = await setup(t);
  const done = drain(client.events({ follow: true }));
  await new Promise((r) => setTimeout(r, 100));
  await api.close();
  t.equal((await done)?.code, Code.CANCELLED);
  await eventually(() => machine.aborted.includes("events"));
  await t.rejects(stat(socket), { code: "ENOENT" });
});
