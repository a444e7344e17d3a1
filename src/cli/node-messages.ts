// Per-node messages of a response: each carries Metadata, and in a fan-out a
// node's own error.
import { CliError } from "./errors.js";

export interface WithMetadata {
  metadata?: { node: string; error: string } | undefined;
}

/** The node that answered a message ("" when the server left it empty). */
export function nodeOf(m: WithMetadata): string {
  return m.metadata?.node ?? "";
}

// Node errors of this run: in a fan-out the nodes that answered are still
// shown, and runCli reports these afterwards and exits non-zero.
const nodeFailures: CliError[] = [];

/** The messages of nodes that answered; the others are kept for runCli to report. Throws if none answered. */
export function okMessages<M extends WithMetadata>(messages: M[]): M[] {
  const failed = messages.filter((m) => m.metadata?.error);
  nodeFailures.push(...failed.map((m) => new CliError(`node "${nodeOf(m)}"`, m.metadata!.error)));
  if (failed.length && failed.length === messages.length) throw nodeFailures.pop()!;
  return messages.filter((m) => !m.metadata?.error);
}

/** The node errors seen since the last call (and forgets them). */
export function takeNodeFailures(): CliError[] {
  return nodeFailures.splice(0);
}

/** The only message of a single-node response, failing when there is none. */
export function onlyMessage<M extends WithMetadata>(messages: M[]): M {
  const [first] = okMessages(messages);
  if (!first) throw new CliError("response", "the machine sent no result");
  return first;
}
