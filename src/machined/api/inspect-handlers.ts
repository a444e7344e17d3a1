// The inspection RPCs of MachineService (kernel log, memory, processes,
// mounts, links, addresses, routes, hostname, time, files, containers, client
// configuration): each maps
// its request to one facade call and the answer back, tagged with the node.
import type { Machine } from "../machine.js";
import type { MachineServiceImpl } from "./service-impl.js";
import {
  crtTtlMs,
  kernelText,
  requestedRoles,
  requiredPath,
  toContainerInfo,
  toImageInfo,
  toListResponse,
  toMemory,
  toMountInfo,
  toProcessInfo,
  toRouteInfo,
} from "./inspect-mapping.js";
import { toTime } from "./inspect-time.js";
import { maxNamespaceBytes } from "../../machinery/api-limits.js";
import { withinLimit } from "./request-limits.js";

type InspectRpcs = "dmesg" | "memory" | "processes" | "mounts" | "links" | "addresses" | "routes" | "hostname" | "time" | "list" | "read" | "containers" | "images" | "generateClientConfiguration";

/** Handlers for the inspection RPCs; `node` names this machine in metadata. */
export function createInspectHandlers(machine: Machine, node: () => string): Pick<MachineServiceImpl, InspectRpcs> {
  const metadata = () => ({ node: node() });
  const one = <T extends object>(fields: T) => ({ messages: [{ metadata: metadata(), ...fields }] });
  return {
    dmesg: (req, ctx) => dmesg(machine, req, ctx.signal, node),
    memory: async () => one(toMemory(await machine.memory())),
    processes: async () => one({ processes: (await machine.processes()).map(toProcessInfo) }),
    mounts: async () => one({ mounts: (await machine.mounts()).map(toMountInfo) }),
    links: async () => one({ links: await machine.links() }),
    addresses: async () => one({ addresses: await machine.addresses() }),
    routes: async () => one({ routes: (await machine.routes()).map(toRouteInfo) }),
    hostname: async () => one({ hostname: machine.hostname() }),
    time: async () => one(toTime(machine.time())),
    list: (req, ctx) => list(machine, req, ctx.signal, node),
    read: (req, ctx) => read(machine, req, ctx.signal, node),
    containers: async (req) => one({ containers: (await machine.containers(withinLimit("namespace", req.namespace, maxNamespaceBytes))).map(toContainerInfo) }),
    images: async (req) => one({ images: (await machine.images(withinLimit("namespace", req.namespace, maxNamespaceBytes))).map(toImageInfo) }),
    generateClientConfiguration: async (req) => one(await clientConfiguration(machine, req)),
  };
}

/** Kernel log batches, each one message of formatted lines. */
async function* dmesg(machine: Machine, req: { follow: boolean; tail: number }, signal: AbortSignal, node: () => string) {
  for await (const batch of machine.dmesg({ follow: req.follow, tail: req.tail, signal })) {
    if (batch.length > 0) yield { metadata: { node: node() }, data: kernelText(batch) };
  }
}


/** Directory entries, one message each. */
async function* list(machine: Machine, req: { root: string; maxDepth: number }, signal: AbortSignal, node: () => string) {
  const root = requiredPath("root", req.root);
  for await (const e of machine.list({ root, maxDepth: req.maxDepth, signal })) yield toListResponse(e, node());
}

/** A file's chunks, one message each. */
async function* read(machine: Machine, req: { path: string }, signal: AbortSignal, node: () => string) {
  const path = requiredPath("path", req.path);
  for await (const data of machine.read({ path, signal })) yield { metadata: { node: node() }, data };
}

/** A client certificate and kilnconfig, as bytes. */
async function clientConfiguration(machine: Machine, req: Parameters<MachineServiceImpl["generateClientConfiguration"]>[0]) {
  const c = await machine.generateClientConfiguration({ roles: requestedRoles(req.roles), ttlMs: crtTtlMs(req.crtTtl) });
  const bytes = (s: string) => new TextEncoder().encode(s);
  return { ca: bytes(c.ca), crt: bytes(c.crt), key: bytes(c.key), kilnconfig: bytes(c.kilnconfig) };
}
