// Maps the Machine facade's TimeInfo (the clock and the time sync's state) to
// the Time message.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Duration, DurationSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { create } from "@bufbuild/protobuf";
import type { TimeSchema } from "../../gen/kiln/machine/v1/machine_pb.js";
import type { TimeInfo } from "../machine.js";

/** The Time message for a TimeInfo (metadata is added by the handler). */
export function toTime(t: TimeInfo): MessageInitShape<typeof TimeSchema> {
  const s = t.sync;
  return {
    servers: t.servers,
    localtime: timestampFromDate(t.now),
    syncState: s.state,
    server: s.server,
    serverAddress: s.address,
    ...(s.offsetMs !== undefined ? { offset: durationOfMs(s.offsetMs) } : {}),
    ...(s.delayMs !== undefined ? { delay: durationOfMs(s.delayMs) } : {}),
    stratum: s.stratum ?? 0,
    ...(s.lastSync ? { lastSync: timestampFromDate(s.lastSync) } : {}),
    correction: s.correction,
    pollInterval: durationOfMs(s.pollMs),
    lastError: s.lastError,
  };
}

/** A Duration for `ms` (fractional, either sign) to the nanosecond; seconds and nanos share the sign. */
export function durationOfMs(ms: number): Duration {
  const totalNs = BigInt(Math.round(ms * 1e6));
  const seconds = totalNs / 1_000_000_000n;
  return create(DurationSchema, { seconds, nanos: Number(totalNs - seconds * 1_000_000_000n) });
}
