
import { toBinary } from "@bufbuild/protobuf";
import t from "tap";
import { serveMachine } from "./api/fixtures/serve.js";
import { parseConfig } from "../../src/config/parse.js";
import { EventsResponseSchema, } from "../../src/gen/kiln/machine/v1/machine_pb.js";
import { maxEventBytes, maxEventListItems, maxEventTextBytes, payloadBytes } from "../../src/machined/event-bounds.js";
import { createEventBus } from "../../src/machined/event-bus.js";
import type { EventBus, EventPayload, MachineEvent } from "../../src/machined/events.js";
import { createFakeMachine } from "./api/fixtures/fake-machine.js";

/** A 9 KiB config whose 600 unknown keys, aliased into 90 files, make 54,000 errors (over 4 MiB of text). */
function invalidConfig(): string {
  const keys = Array.from({ length: 600 }, (_, i) => `zq${i}: 1`).join(", ");
  const files = Array.from({ length: 90 }, () => "*m").join(", ");
  return `apiVersion: kiln/v1alpha1\nkind: MachineConfig\nmachine:\n  type: worker\n  env: &m {${keys}}\n  files: [${files}]\n`;
}

/** A machine API over a real event bus, and a client for it. */
async function serve(t: { teardown(fn: () => unknown): void }, bus: EventBus) {
  const machine = createFakeMachine();
  machine.events = (q) => bus.watch(q);
  return (await serveMachine(t, machine)).client;
}

t.test("an invalid config with thousands of errors makes one event under the cap, and events still streams", async (t) => {
  const parsed = parseConfig(invalidConfig());
  if (!("errors" in parsed)) throw new Error("expected the config to be invalid");
  t.ok(parsed.errors.length > 50_000, `${parsed.errors.length} errors`);
  const bus = createEventBus();
  bus.publish({ t: "config", source: "api", accepted: false, errors: parsed.errors.map(String), warnings: [], message: "rejected: invalid config" });
  bus.publish({ t: "machine", stage: "running", message: "after" });
  const client = await serve(t, bus);
  const got = [];
  for await (const res of client.events({ tailEvents: -1 }, { timeoutMs: 10_000 })) got.push(res);
  t.equal(got.length, 2, "both events arrive");
  const size = toBinary(EventsResponseSchema, got[0]!).length;
  t.ok(size < maxEventBytes, `the config event is ${size} bytes < ${maxEventBytes}`);
  const config = got[0]?.payload;
  t.equal(config?.case, "config");
  const errors = config?.case === "config" ? config.value.errors : [];
  t.equal(errors.length, maxEventListItems + 1);
  t.equal(errors.at(-1), `… and ${parsed.errors.length - maxEventListItems} more`);
  t.equal(errors[0], String(parsed.errors[0]), "the first errors are kept as they are");
});

t.test("cuts each text field of an event to its limit, with a marker", async (t) => {
  const bus = createEventBus();
  const { payload } = bus.publish({ t: "machine", stage: "running", message: "x".repeat(300 * 1024) });
  const message = payload.t === "machine" ? payload.message : "";
  t.ok(Buffer.byteLength(message) <= maxEventTextBytes, `${Buffer.byteLength(message)} bytes`);
  t.match(message, /… \(truncated\)$/);
});

t.test("drops the oldest events when the ring's text passes its byte budget", async (t) => {
  const event = (i: number): EventPayload => ({ t: "machine", stage: "running", message: `${i}`.padEnd(1000, ".") });
  const bus = createEventBus({ capacity: 1000, maxBytes: 10 * payloadBytes(event(10)) });
  for (let i = 10; i < 40; i++) bus.publish(event(i));
  const kept: MachineEvent[] = [];
  for await (const e of bus.watch({ tail: -1, sinceId: 0, follow: false })) kept.push(e);
  t.same(kept.map((e) => e.id), [21, 22, 23, 24, 25, 26, 27, 28, 29, 30], "the newest 10 of 30 events by bytes, though the count allows 1000");
});

t.test("keeps the newest event even when it alone is over the budget", async (t) => {
  const bus = createEventBus({ maxBytes: 100 });
  bus.publish({ t: "machine", stage: "running", message: "a".repeat(50) });
  bus.publish({ t: "machine", stage: "running", message: "b".repeat(500) });
  const kept: MachineEvent[] = [];
  for await (const e of bus.watch({ tail: -1, sinceId: 0, follow: false })) kept.push(e);
  t.same(kept.map((e) => e.id), [2]);
});
