// Fuzz: random bytes and random valid messages to every RPC apid serves (from
// the generated descriptors), through real apid with real mTLS, to machined's
// real API handlers over a fake machine whose configs go through the real
// parse, validation and apply. Callers: no certificate, an os:admin
// certificate from another CA, a reader and an operator; an admin applies
// mutated configs alongside. After each round: the server still answers,
// every call ended with a gRPC status before its deadline, nothing reached
// machined that the caller may not call, a reader never saw the planted
// secret, and the event loop never stalled.
import { type Client, Metadata, status } from "@grpc/grpc-js";
import { create, toBinary } from "@bufbuild/protobuf";
import t from "tap";
import { accessRules } from "../../src/apid/authorization.js";
import { includes, type Role } from "../../src/apid/roles.js";
import { Health } from "../../src/gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ReflectionV1 } from "../../src/gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "../../src/gen/grpc/reflection/v1alpha/reflection_pb.js";
import { ApplyConfigurationRequestSchema, ApplyMode, MachineService } from "../../src/gen/kiln/machine/v1/machine_pb.js";
import { maxConfigBytes } from "../../src/machinery/api-limits.js";
import { createTestPki } from "../apid/fixtures/pki.js";
import { apidClient, callStream, callUnary, type Outcome, startStack } from "../apid/fixtures/stack.js";
import { bundledConfigParsers } from "../fixtures/config/config-worker.js";
import { mutate, plantedSecret, seedConfigs, smallConfigBytes } from "./fixtures/configs.js";
import { createFuzzMachine } from "./fixtures/fuzz-machine.js";
import { watchEventLoop } from "./fixtures/loop-delay.js";
import { randomBytes, randomMessage, type Rpc, rpcsOf } from "./fixtures/messages.js";
import { createRng, fuzzBudgetMs, fuzzSeed, reproduceLine } from "./rng.js";

const seed = fuzzSeed();
const budgetMs = fuzzBudgetMs(0.65);
const secret = plantedSecret(seed);
const createParser = bundledConfigParsers(t);
t.comment(reproduceLine("api.test.ts", seed, budgetMs));

/** A call's deadline; following streams (logs, events, health) run into it. */
const deadlineMs = 1500;
/** How long after its deadline a call may take to end before it counts as hung. */
const hangMs = 5000;
/** Calls in flight at once. */
const parallel = 8;

type Caller = "none" | "otherCa" | "reader" | "operator";
const callers: Caller[] = ["none", "otherCa", "reader", "operator"];
/** The role each caller has (none: never authenticated). */
const roleOf: Record<Caller, Role | undefined> = { none: undefined, otherCa: undefined, reader: "os:reader", operator: "os:operator" };

const raw = (b: Buffer) => b;

/** A bidi or client-streaming call: one request, then half-close, read to its end. */
function callBidi(client: Client, path: string, request: Buffer, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const messages: Buffer[] = [];
    const call = client.makeBidiStreamRequest(path, raw, raw, new Metadata(), { deadline: Date.now() + timeoutMs });
    call.on("data", (m: Buffer) => messages.push(m));
    call.on("error", () => {});
    call.on("status", (s) => resolve({ code: s.code, details: s.details, messages }));
    call.write(request);
    call.end();
  });
}

/** One call of `rpc` with `request`, by its kind; a hang becomes an outcome naming it. */
async function call(client: Client, rpc: Rpc, request: Buffer): Promise<Outcome & { hung?: true; ms: number }> {
  const started = Date.now();
  const outcome =
    rpc.kind === "unary"
      ? callUnary(client, rpc.path, Buffer.from(request), {}, deadlineMs)
      : rpc.kind === "server_streaming"
        ? callStream(client, rpc.path, Buffer.from(request), {}, deadlineMs)
        : callBidi(client, rpc.path, request, deadlineMs);
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<Outcome & { hung: true }>((resolve) => {
    timer = setTimeout(() => resolve({ code: status.UNKNOWN, details: "no status", messages: [], hung: true }), deadlineMs + hangMs);
  });
  const out = await Promise.race([outcome, hung]);
  clearTimeout(timer);
  return { ...out, ms: Date.now() - started };
}

/** Runs `jobs` at most `n` at a time, results in order. */
async function pool<T>(n: number, jobs: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: n }, worker));
  return results;
}

/** Whether `caller` may call `path` (apid's table; a path missing from it is admin-only). */
function allowed(caller: Caller, path: string): boolean {
  const role = roleOf[caller];
  return role !== undefined && includes(role, accessRules.get(path) ?? "os:admin");
}

/** What is wrong with one outcome of `caller`'s call, or undefined. */
function problemOf(caller: Caller, out: Outcome & { hung?: true; ms: number }): string | undefined {
  if (out.hung) return `no status within ${deadlineMs + hangMs} ms of a ${deadlineMs} ms deadline`;
  if (!Number.isInteger(out.code) || out.code < 0 || out.code > 16) return `ended with ${out.code}, not a gRPC status`;
  if (caller === "operator") return undefined;
  if (out.details.includes(secret) || out.messages.some((m) => m.includes(secret))) return `a ${caller} got the planted secret (status ${out.code}: ${out.details.slice(0, 200)})`;
  return undefined;
}

t.test("random bytes and messages to every RPC through apid: always a status, nothing unauthorised reaches machined, no secret to a reader", async (t) => {
  const rng = createRng(seed);
  const pki = await createTestPki();
  const adminYamls = seedConfigs(`FUZZ-ADMIN-${seed}`);
  const machine = createFuzzMachine(seedConfigs(secret)[0]!, secret, createParser().parse);
  const stack = await startStack(t, pki, "mtls", "node-a", machine);
  const client = (cert?: (typeof pki.clients)["reader"]) => apidClient(t, stack.port, pki.ca, cert);
  const clients: Record<Caller | "admin", Client> = {
    none: client(),
    otherCa: client(pki.clients.otherCa),
    reader: client(pki.clients.reader),
    operator: client(pki.clients.operator),
    admin: client(pki.clients.admin),
  };
  const rpcs = rpcsOf([MachineService, Health, ReflectionV1, ReflectionV1alpha]);
  const version = rpcs.find((r) => r.path.endsWith("/Version"))!;
  const applyPath = `/${MachineService.typeName}/ApplyConfiguration`;
  const loop = watchEventLoop();
  loop.calibrate();
  const started = Date.now();
  const failures: string[] = [];
  const codes = new Map<string, number>();
  const tally = (who: string, code: status) => codes.set(`${who} ${status[code]}`, (codes.get(`${who} ${status[code]}`) ?? 0) + 1);
  let calls = 0;
  let round = 0;
  for (; Date.now() - started < budgetMs && failures.length < 5; round++) {
    for (const caller of callers) {
      loop.pause(); // making the requests is the test's work, not the server's
      const requests = rpcs.flatMap((rpc) => [
        { rpc, what: "random bytes", bytes: randomBytes(rng, rpc.input) },
        { rpc, what: "a random message", bytes: Buffer.from(randomMessage(rng, rpc.input)) },
      ]);
      const admin = Array.from({ length: 3 }, () => {
        const data = new TextEncoder().encode(mutate(rng, rng.pick(adminYamls)).slice(0, rng.chance(0.2) ? maxConfigBytes : smallConfigBytes));
        const req = create(ApplyConfigurationRequestSchema, { data, mode: rng.pick([ApplyMode.AUTO, ApplyMode.NO_REBOOT, ApplyMode.STAGED, ApplyMode.TRY]), dryRun: rng.chance(0.5) });
        return () => callUnary(clients.admin, applyPath, Buffer.from(toBinary(ApplyConfigurationRequestSchema, req)), {}, deadlineMs);
      });
      const before = stack.arrived.length;
      await loop.resume();
      const outcomes = await pool(parallel, [...requests.map((r) => () => call(clients[caller], r.rpc, r.bytes)), ...admin]);
      calls += outcomes.length;
      for (const [i, o] of outcomes.entries()) tally(i < requests.length ? caller : "admin apply", o.code);
      requests.forEach((r, i) => {
        const problem = problemOf(caller, outcomes[i] as Outcome & { ms: number });
        if (problem) failures.push(`round ${round} (seed ${seed}), ${caller}, ${r.rpc.path}, ${r.what} (${r.bytes.length} bytes): ${problem}`);
      });
      const reached = stack.arrived.slice(before).filter((p) => p !== applyPath && !allowed(caller, p));
      if (reached.length) failures.push(`round ${round} (seed ${seed}): ${caller}'s calls reached machined on ${[...new Set(reached)].join(", ")}`);
      const alive = await call(clients.reader, version, Buffer.alloc(0));
      if (alive.code !== status.OK) failures.push(`round ${round} (seed ${seed}), after ${caller}'s calls: Version answered ${alive.code} ${alive.details}`);
    }
    loop.calibrate();
  }
  loop.stop();
  t.comment(`${round} rounds, ${calls} calls in ${Date.now() - started} ms; ${loop.describe()}`);
  t.comment(`statuses: ${[...codes].map(([k, n]) => `${k} ${n}`).join(", ")}`);
  t.ok(round > 0, "rounds ran");
  t.same(failures, [], "every call ended with a status in time, reached machined only when allowed, and showed a reader no secret");
  t.ok(loop.withinBound(), `the event loop's max delay ${Math.round(loop.maxMs())} ms is within ${Math.round(loop.boundMs())} ms`);
});
