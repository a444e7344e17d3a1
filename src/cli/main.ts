// kilnctl's entry point (bundled to dist/kilnctl.js): runs the program on
// this process's arguments and exits with its code.
import { processDeps } from "./deps.js";
import { runCli } from "./program.js";

/** A closed pipe (`kilnctl logs x | head`) ends output quietly. */
function exitOnClosedPipe(err: NodeJS.ErrnoException): void {
  if (err.code !== "EPIPE") throw err;
  process.exit(0);
}

/** Resolves once what was written to `stream` has been handed to the OS. */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write("", () => resolve()));
}

process.stdout.on("error", exitOnClosedPipe);
// A closed stderr (`kilnctl upgrade … 2>&1 | head -1`) loses the messages, not the work: the command
// runs on and exits with its own code, which a script still reads (a throw here made it 1).
process.stderr.on("error", () => {});
const code = await runCli(process.argv.slice(2), processDeps());
// The command is done when runCli is: exit now rather than when the last
// handle closes. grpc-js may still be reconnecting to a machine the command
// just powered off (cluster destroy), and a connection to an address that no
// longer routes waits out TCP's retries: over two minutes.
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(code);
