// The Sequences RPC: the lifecycle's timeline and who holds the lock.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Machine } from "../machine.js";
import type { SequenceRun } from "../sequences/timeline.js";

/** The handler; `metadata` tags the answer with the node. */
export function createSequenceHandlers(machine: Machine, metadata: () => { node: string }) {
  return {
    sequences: async () => {
      const { runs, running } = machine.sequences();
      const holder = running ? { running: { sequence: running.name, label: running.label, since: timestampFromDate(running.since) } } : {};
      return { messages: [{ metadata: metadata(), runs: runs.map(toSequenceRun), ...holder }] };
    },
  };
}

/** A run as protobuf: the same fields, the start a Timestamp, the name as `sequence`. */
function toSequenceRun(r: SequenceRun) {
  return { id: r.id, sequence: r.name, label: r.label, started: timestampFromDate(r.started), durationMs: r.durationMs, result: r.result, error: r.error, phases: r.phases };
}
