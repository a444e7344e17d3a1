// Per-node messages of a response: each carries Metadata, and in a fan-out a
// node's own error.
import { CliError } from "./errors.js";

interface WithMetadata {
  metadata?: { node: string; error: string } | undefined;
}

/** The node that answered a message ("" when the server left it empty). */
export function nodeOf(m: WithMetadata): string {
  return m.metadata?.node ?? "";
}

/** The messages, failing on the first that carries a node error. */
export function okMessages<M extends WithMetadata>(messages: M[]): M[] {
  const failed = messages.find((m) => m.metadata?.error);
  if (failed) throw new CliError(`node "${nodeOf(failed)}"`, failed.metadata!.error);
  return messages;
}

/** The only message of a single-node response, failing when there is none. */
export function onlyMessage<M extends WithMetadata>(messages: M[]): M {
  const [first] = okMessages(messages);
  if (!first) throw new CliError("response", "the machine sent no result");
  return first;
}
