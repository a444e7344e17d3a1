// A cap on the server streams machined has open at once, over all its
// sockets (src/machinery/api-limits.ts): one more is refused at once with
// RESOURCE_EXHAUSTED naming the limit, so followers cannot take every fd
// and byte of PID 1.
import { MachineService } from "../../gen/kiln/machine/v1/machine_pb.js";
import type { CallContext } from "../../grpc/server.js";
import { tooManyStreamsMessage } from "../../machinery/api-limits.js";
import { exhausted } from "../errors.js";
import type { MachineServiceImpl } from "./service-impl.js";

/** Counts open streams against `max`; shared by every socket's server. */
export interface StreamGate {
  /** Takes a place, or throws `exhausted`; call the returned function once, when the stream ends. */
  enter(): () => void;
  open(): number;
}

/** A gate allowing `max` streams at once. */
export function createStreamGate(max: number): StreamGate {
  let open = 0;
  return {
    enter() {
      if (open >= max) throw exhausted(tooManyStreamsMessage(max));
      open++;
      let left = false;
      return () => {
        if (!left) open--;
        left = true;
      };
    },
    open: () => open,
  };
}

type StreamFn = (req: unknown, ctx: CallContext) => AsyncIterable<unknown>;

/** `handlers` with every server stream passing through `gate`: it holds a place from its first message until it ends. */
export function limitStreams(handlers: MachineServiceImpl, gate: StreamGate): MachineServiceImpl {
  const out: Record<string, unknown> = { ...handlers };
  for (const m of MachineService.methods) {
    if (m.methodKind !== "server_streaming") continue;
    const fn = (handlers as unknown as Record<string, StreamFn>)[m.localName]!;
    out[m.localName] = async function* gated(req: unknown, ctx: CallContext) {
      const leave = gate.enter();
      try {
        yield* fn(req, ctx);
      } finally {
        leave();
      }
    };
  }
  return out as unknown as MachineServiceImpl;
}
