// The Upgrade call: its steps shown as they come, until the machine reboots
// into the new slot (or stages it). The machine going down right after its
// "reboot" step ends the stream with UNAVAILABLE or CANCELLED: that is the
// upgrade under way, not a failure. Before that step, UNAVAILABLE is a
// failure named for the upgrade (the machine also uses it when it cannot
// fetch a URL), not for the connection, which was up.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { UpgradeRequestSchema, UpgradeStatus } from "../gen/kiln/machine/v1/machine_pb.js";
import { ApiError, Code } from "../grpc/errors.js";
import { CliError } from "./errors.js";
import { ExitCode } from "./exit-codes.js";
import { nodeOf } from "./node-messages.js";
import type { MachineSession } from "./session.js";
import type { StepPrinter } from "./step-progress.js";

/** How the stream ended: its last phase ("reboot" or "staged") and the last record the machine sent. */
export interface UpgradeOutcome {
  lastPhase: string;
  status: UpgradeStatus | undefined;
}

/** The phases after which the machine's part is done. */
const finalPhases = ["reboot", "staged"];

/** What Upgrade is asked. */
export type UpgradeInit = MessageInitShape<typeof UpgradeRequestSchema>;

/**
 * Runs Upgrade, showing each step. The stream has no deadline (fetching and
 * writing a bundle take as long as they take); Ctrl-C ends kilnctl, which
 * cancels the call.
 */
export async function runUpgradeStream(m: MachineSession, req: UpgradeInit, steps: StepPrinter): Promise<UpgradeOutcome> {
  let last: { phase: string; status: UpgradeStatus | undefined } | undefined;
  try {
    for await (const res of m.client.upgrade(req)) {
      if (res.metadata?.error) throw new CliError(`node "${nodeOf(res)}"`, res.metadata.error);
      steps.show({ phase: res.phase, message: res.message, done: Number(res.done), total: Number(res.total) });
      last = { phase: res.phase, status: res.status ?? last?.status };
    }
  } catch (err) {
    if (last?.phase === "reboot" && goingDown(err)) return { lastPhase: last.phase, status: last.status };
    throw unavailable(err, last?.phase) ?? err;
  } finally {
    steps.end();
  }
  if (!last || !finalPhases.includes(last.phase)) throw unfinished(last?.phase);
  return { lastPhase: last.phase, status: last.status };
}

/** The errors of a connection cut by the machine going down. */
function goingDown(err: unknown): boolean {
  return err instanceof ApiError && (err.code === Code.UNAVAILABLE || err.code === Code.CANCELLED);
}

/** UNAVAILABLE before the machine's part was done, as a failure of the upgrade (exit 4); undefined for other errors. */
function unavailable(err: unknown, phase: string | undefined): CliError | undefined {
  if (!(err instanceof ApiError && err.code === Code.UNAVAILABLE)) return undefined;
  const when = phase ? ` (after the "${phase}" step)` : "";
  const reason = err.message.replace(/^No connection established\. Last error: /, "");
  return new CliError("upgrading", `${reason}${when}`, ExitCode.unavailable, { cause: err });
}

/** A stream that ended cleanly before the machine's part was done. */
function unfinished(phase: string | undefined): CliError {
  const when = phase ? `after its "${phase}" step` : "without a step";
  return new CliError("upgrading", `the machine ended the upgrade ${when}, before staging or rebooting (kilnctl version shows its slots)`);
}
