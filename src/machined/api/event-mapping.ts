// Maps machined's events to EventsResponse messages.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type EventsResponseSchema,
  MachineEvent_Stage,
  NetworkEvent_Kind,
  SequenceEvent_Action,
} from "../../gen/kiln/machine/v1/machine_pb.js";
import type { EventPayload, MachineEvent, NetworkEventKind } from "../events.js";
import { toServiceHealth, toServiceState } from "./service-mapping.js";

type EventsResponseInit = MessageInitShape<typeof EventsResponseSchema>;
type MachineStage = Extract<EventPayload, { t: "machine" }>["stage"];

/** Each machine stage and its protobuf enum value. */
const stages: Record<MachineStage, MachineEvent_Stage> = {
  booting: MachineEvent_Stage.BOOTING,
  maintenance: MachineEvent_Stage.MAINTENANCE,
  running: MachineEvent_Stage.RUNNING,
  rebooting: MachineEvent_Stage.REBOOTING,
  "shutting-down": MachineEvent_Stage.SHUTTING_DOWN,
  upgrade: MachineEvent_Stage.UPGRADE,
};

/** Each network event kind and its protobuf enum value. */
const networkKinds: Record<NetworkEventKind, NetworkEvent_Kind> = {
  "link-up": NetworkEvent_Kind.LINK_UP,
  "link-down": NetworkEvent_Kind.LINK_DOWN,
  "address-added": NetworkEvent_Kind.ADDRESS_ADDED,
  "address-removed": NetworkEvent_Kind.ADDRESS_REMOVED,
  "lease-acquired": NetworkEvent_Kind.LEASE_ACQUIRED,
  "lease-renewed": NetworkEvent_Kind.LEASE_RENEWED,
  "lease-failed": NetworkEvent_Kind.LEASE_FAILED,
  "lease-lost": NetworkEvent_Kind.LEASE_LOST,
  error: NetworkEvent_Kind.ERROR,
};

/** One machine event as an EventsResponse for `node`. */
export function toEventsResponse(e: MachineEvent, node: string): EventsResponseInit {
  return { metadata: { node }, id: BigInt(e.id), time: timestampFromDate(e.time), payload: toPayload(e.payload) };
}

/** The oneof payload of an event. */
function toPayload(p: EventPayload): EventsResponseInit["payload"] {
  switch (p.t) {
    case "service":
      return { case: "service", value: serviceEvent(p) };
    case "sequence":
      return { case: "sequence", value: sequenceEvent(p) };
    case "config":
      return { case: "config", value: configEvent(p) };
    case "machine":
      return { case: "machine", value: { stage: stages[p.stage] ?? MachineEvent_Stage.UNSPECIFIED, message: p.message } };
    case "network": {
      const { link, address, source, message } = p;
      return { case: "network", value: { kind: networkKinds[p.kind] ?? NetworkEvent_Kind.UNSPECIFIED, link, address, source, message } };
    }
  }
}

/** A service state change. */
function serviceEvent(p: Extract<EventPayload, { t: "service" }>) {
  return { id: p.id, state: toServiceState(p.state), message: p.message, health: toServiceHealth(p.healthy, p.healthMessage) };
}

/** A config being acquired or applied. */
function configEvent(p: Extract<EventPayload, { t: "config" }>) {
  return { source: p.source, accepted: p.accepted, errors: p.errors, warnings: p.warnings, message: p.message };
}

/** A sequence or task starting or stopping. */
function sequenceEvent(p: Extract<EventPayload, { t: "sequence" }>) {
  const action = p.action === "start" ? SequenceEvent_Action.START : SequenceEvent_Action.STOP;
  return { sequence: p.sequence, phase: p.phase, task: p.task, action, error: p.error, durationMs: p.durationMs };
}
