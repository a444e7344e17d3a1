// grpc.health.v1 for off-the-shelf tools and load balancers: SERVING while
// machined answers apid (a Version call within a second), else NOT_SERVING.
import { create } from "@bufbuild/protobuf";
import type { sendUnaryData, ServerUnaryCall, ServerWritableStream, ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import {
  Health,
  type HealthCheckRequest,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as Serving,
  HealthCheckResponseSchema,
} from "../gen/grpc/health/v1/health_pb.js";
import { MachineService } from "../gen/kiln/machine/v1/machine_pb.js";
import { ApiError, Code } from "../grpc/errors.js";
import { grpcDefinition } from "../grpc/service.js";
import { admit, type Mode } from "./admission.js";
import type { DeniedCertificates } from "./denied-certificates.js";
import { methodPath } from "./authorization.js";
import { cancelSignal, fail, pump, toStatus } from "../grpc/call-io.js";
import type { Upstream } from "./upstream.js";

/** Services health is reported for: the server as a whole ("") and the machine API. */
const known = new Set(["", MachineService.typeName]);

/** How often Watch asks machined again. */
const watchIntervalMs = 2000;

/** Health handlers answering from `machined`'s responsiveness. */
export function healthService(mode: Mode, machined: Upstream, denied?: DeniedCertificates): { definition: ServiceDefinition; implementation: UntypedServiceImplementation } {
  const probe = (signal: AbortSignal) => servingStatus(machined, signal);
  return { definition: grpcDefinition(Health), implementation: { check: checkHandler(mode, probe, denied), watch: watchHandler(mode, probe, denied) } };
}

/** SERVING when machined answers Version within a second. */
async function servingStatus(machined: Upstream, signal: AbortSignal): Promise<Serving> {
  try {
    await machined.unary(methodPath(MachineService, "Version"), Buffer.alloc(0), { deadline: Date.now() + 1000, signal });
    return Serving.SERVING;
  } catch {
    return Serving.NOT_SERVING;
  }
}

type Probe = (signal: AbortSignal) => Promise<Serving>;

/** Check: the status now; NOT_FOUND for a service this server does not know. */
function checkHandler(mode: Mode, probe: Probe, denied?: DeniedCertificates) {
  return (call: ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: sendUnaryData<HealthCheckResponse>) => {
    const signal = cancelSignal(call);
    const answer = async () => {
      admit(mode, call, methodPath(Health, "Check"), denied);
      if (!known.has(call.request.service)) throw new ApiError(Code.NOT_FOUND, `unknown service "${call.request.service}"`);
      return create(HealthCheckResponseSchema, { status: await probe(signal) });
    };
    answer().then((res) => callback(null, res), (err: unknown) => callback(toStatus(err)));
  };
}

/** Watch: the status now and whenever it changes, until the client goes; SERVICE_UNKNOWN for unknown services. */
function watchHandler(mode: Mode, probe: Probe, denied?: DeniedCertificates) {
  return (call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => {
    const signal = cancelSignal(call);
    try {
      admit(mode, call, methodPath(Health, "Watch"), denied);
    } catch (err) {
      return fail(call, signal, err);
    }
    void pump(call, signal, () => changes(known.has(call.request.service) ? probe : async () => Serving.SERVICE_UNKNOWN, signal));
  };
}

/** Each status that differs from the one before, polling until the signal aborts. */
async function* changes(probe: Probe, signal: AbortSignal): AsyncIterable<HealthCheckResponse> {
  let last: Serving | undefined;
  while (!signal.aborted) {
    const status = await probe(signal);
    if (status !== last) yield create(HealthCheckResponseSchema, { status });
    last = status;
    await sleep(watchIntervalMs, signal);
  }
}

/** Resolves after `ms`, or as soon as the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const abort = () => {
      clearTimeout(timer);
      resolve();
    };
    signal.addEventListener("abort", abort, { once: true });
  });
}
