// The upgrade RPCs: UpgradeUpload, Upgrade (its steps streamed), Rollback,
// and the upgrade record as Version shows it.
import { durationMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { UpgradeRequest, UpgradeUploadRequest } from "../../gen/kiln/machine/v1/machine_pb.js";
import { ApiError, Code } from "../../grpc/errors.js";
import type { Machine, UpgradeStatusInfo } from "../machine.js";
import { fromRebootMode } from "./request-mapping.js";

/** The record as protobuf (its time a Timestamp). */
export function toUpgradeStatus(s: UpgradeStatusInfo) {
  return { ...s, time: timestampFromDate(s.time) };
}

/** Handlers for the upgrade RPCs; `metadata` tags each answer with the node. */
export function createUpgradeHandlers(machine: Machine, metadata: () => { node: string }) {
  return {
    upgradeUpload: async (req: UpgradeUploadRequest) => {
      const r = await machine.upgradeUpload({ uploadId: req.uploadId, offset: Number(req.offset), data: req.data, totalSize: Number(req.totalSize) });
      return { messages: [{ metadata: metadata(), uploadId: r.uploadId, received: BigInt(r.received) }] };
    },
    upgrade: (req: UpgradeRequest, ctx: { signal: AbortSignal }) => upgrade(machine, req, ctx.signal, metadata),
    rollback: async (req: { rebootMode: Parameters<typeof fromRebootMode>[0]; force: boolean }) => {
      const r = await machine.rollback(fromRebootMode(req.rebootMode), req.force);
      return { messages: [{ metadata: metadata(), ...r }] };
    },
  };
}

async function* upgrade(machine: Machine, req: UpgradeRequest, signal: AbortSignal, metadata: () => { node: string }) {
  const s = req.source;
  if (s.case === undefined || !s.value) throw new ApiError(Code.INVALID_ARGUMENT, "expected an upload_id (from UpgradeUpload) or a url of a kiln-upgrade.tar");
  const source = s.case === "url" ? { url: s.value } : { uploadId: s.value };
  const options = { source, force: req.force, stage: req.stage, rebootMode: fromRebootMode(req.rebootMode), healthTimeoutMs: req.healthTimeout ? durationMs(req.healthTimeout) : 0 };
  for await (const step of machine.upgrade(options, signal)) {
    const { status, done, total, ...rest } = step;
    yield { metadata: metadata(), ...rest, done: BigInt(done), total: BigInt(total), ...(status ? { status: toUpgradeStatus(status) } : {}) };
  }
}
