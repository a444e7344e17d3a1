// Maps machined's service states and health to their protobuf shapes.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type ServiceHealthSchema, type ServiceInfoSchema, ServiceState } from "../../gen/kiln/machine/v1/machine_pb.js";
import type { ServiceStateName, ServiceStatus } from "../service.js";

/** Each state name and its protobuf enum value. */
const states: Record<ServiceStateName, ServiceState> = {
  Waiting: ServiceState.WAITING,
  Preparing: ServiceState.PREPARING,
  Running: ServiceState.RUNNING,
  Stopping: ServiceState.STOPPING,
  Finished: ServiceState.FINISHED,
  Failed: ServiceState.FAILED,
  Skipped: ServiceState.SKIPPED,
};

/** The protobuf enum value of a service state. */
export function toServiceState(state: ServiceStateName): ServiceState {
  return states[state] ?? ServiceState.UNSPECIFIED;
}

/** Health as the API reports it: `healthy: null` becomes `unknown: true`. */
export function toServiceHealth(
  healthy: boolean | null,
  message: string,
  changedAt?: Date,
): MessageInitShape<typeof ServiceHealthSchema> {
  return {
    unknown: healthy === null,
    healthy: healthy === true,
    lastMessage: message,
    lastChange: changedAt ? timestampFromDate(changedAt) : undefined,
  };
}

/** One service's status as a ServiceInfo message. */
export function toServiceInfo(s: ServiceStatus): MessageInitShape<typeof ServiceInfoSchema> {
  return {
    id: s.id,
    state: toServiceState(s.state),
    message: s.message,
    health: toServiceHealth(s.healthy, s.healthMessage, s.healthChangedAt),
    pid: s.pid,
    restarts: s.restarts,
    dependsOn: s.dependsOn,
    since: timestampFromDate(s.since),
  };
}
