// The MachineService implementation: each RPC maps its request to one call
// of the Machine facade and the answer back to protobuf, tagged with the node.
import { ApiError, Code } from "../../grpc/errors.js";
import type { MetadataReader } from "../../grpc/server.js";
import { apidModeHeader } from "../../machinery/apid.js";
import type { Machine } from "../machine.js";
import { toEventsResponse } from "./event-mapping.js";
import { createImageImportHandler } from "./image-import-handler.js";
import { createInspectHandlers } from "./inspect-handlers.js";
import { crtTtlMs } from "./inspect-mapping.js";
import { toKubeconfig } from "./kubeconfig-mapping.js";
import type { MachineServiceImpl } from "./service-impl.js";
import {
  configText,
  eventId,
  fromApplyMode,
  fromRebootMode,
  serviceId,
  toApplyMode,
  tryTimeoutMs,
} from "./request-mapping.js";
import { toServiceInfo } from "./service-mapping.js";
import { createSequenceHandlers } from "./sequence-handlers.js";
import { createUpgradeHandlers, toUpgradeStatus } from "./upgrade-handlers.js";

/** Where the handlers' calls come from. */
export interface HandlerOptions {
  /** apid's socket: the mode apid marks each call with is believed (never on root's socket). */
  apidSocket?: boolean;
}

/** Handlers for every MachineService RPC; `node` names this machine in metadata. */
export function createMachineHandlers(machine: Machine, node: () => string, o: HandlerOptions = {}): MachineServiceImpl {
  const metadata = () => ({ node: node() });
  return {
    version: async () => {
      const { upgrade, ...v } = machine.version();
      return { messages: [{ metadata: metadata(), ...v, ...(upgrade ? { upgrade: toUpgradeStatus(upgrade) } : {}) }] };
    },
    serviceList: async () => ({ messages: [{ metadata: metadata(), services: machine.services().map(toServiceInfo) }] }),
    serviceStart: async (req) => action(req.id, await machine.serviceStart(serviceId(req.id)), metadata()),
    serviceStop: async (req) => action(req.id, await machine.serviceStop(serviceId(req.id)), metadata()),
    serviceRestart: async (req) => action(req.id, await machine.serviceRestart(serviceId(req.id)), metadata()),
    logs: (req, ctx) => logs(machine, req, ctx.signal, node),
    events: (req, ctx) => events(machine, req, ctx.signal, node),
    reboot: async (req) => {
      await machine.reboot(fromRebootMode(req.mode), req.force);
      return { messages: [{ metadata: metadata() }] };
    },
    shutdown: async (req) => {
      await machine.shutdown(req.force);
      return { messages: [{ metadata: metadata() }] };
    },
    reset: async (req) => {
      await machine.reset({ graceful: req.graceful, reboot: req.reboot, wipe: req.wipe });
      return { messages: [{ metadata: metadata() }] };
    },
    bootstrap: async () => ({ messages: [{ metadata: metadata(), ...(await machine.bootstrap()) }] }),
    kubeconfig: async (req) => ({ messages: [{ metadata: metadata(), ...toKubeconfig(await machine.kubeconfig({ ttlMs: crtTtlMs(req.crtTtl) })) }] }),
    applyConfiguration: async (req, ctx) => ({ messages: [{ metadata: metadata(), ...(await apply(machine, req, viaMaintenance(o, ctx.metadata))) }] }),
    getConfiguration: async () => ({ messages: [{ metadata: metadata(), data: configuration(machine) }] }),
    ...createInspectHandlers(machine, node),
    ...createUpgradeHandlers(machine, metadata),
    ...createSequenceHandlers(machine, metadata),
    ...createImageImportHandler(machine, metadata),
  };
}

/** The answer to a service start, stop or restart. */
function action(id: string, result: string, metadata: { node: string }) {
  return { messages: [{ metadata, id, result }] };
}

/** A service's log chunks, each tagged with the node. */
async function* logs(
  machine: Machine,
  req: { id: string; follow: boolean; tailLines: number },
  signal: AbortSignal,
  node: () => string,
) {
  const query = { id: serviceId(req.id), tailLines: req.tailLines, follow: req.follow, signal };
  for await (const data of machine.logs(query)) yield { metadata: { node: node() }, data };
}

/** Machine events per the request, each tagged with the node. */
async function* events(
  machine: Machine,
  req: { tailEvents: number; sinceId: bigint; follow: boolean },
  signal: AbortSignal,
  node: () => string,
) {
  const query = { tail: req.tailEvents, sinceId: eventId(req.sinceId), follow: req.follow, signal };
  for await (const e of machine.events(query)) yield toEventsResponse(e, node());
}

/** Applies a config through the facade and maps the result. */
async function apply(
  machine: Machine,
  req: Parameters<MachineServiceImpl["applyConfiguration"]>[0],
  maintenance: boolean,
) {
  const mode = fromApplyMode(req.mode);
  const yaml = configText(req.data);
  const r = await machine.applyConfiguration({ yaml, mode, dryRun: req.dryRun, tryTimeoutMs: tryTimeoutMs(mode, req.tryTimeout), maintenance });
  return { mode: toApplyMode(r.mode), modeDetails: r.details, warnings: r.warnings, changes: r.changes, needsReboot: r.needsReboot };
}

/** Whether a call came through apid's maintenance mode: apid says so, on apid's socket only. */
function viaMaintenance(o: HandlerOptions, md: MetadataReader): boolean {
  return o.apidSocket === true && md.get(apidModeHeader).some((v) => v === "maintenance");
}

/** The current config as bytes; NOT_FOUND in maintenance mode. */
function configuration(machine: Machine): Uint8Array {
  const yaml = machine.configuration();
  if (yaml === undefined) throw new ApiError(Code.NOT_FOUND, "no machine config: the machine is in maintenance mode");
  return new TextEncoder().encode(yaml);
}
