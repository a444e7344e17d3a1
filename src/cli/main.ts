// kilnctl's entry point (bundled to dist/kilnctl.js): runs the program on
// this process's arguments and exits with its code.
import { processDeps } from "./deps.js";
import { runCli } from "./program.js";

/** A closed pipe (`kilnctl logs x | head`) ends output quietly. */
function exitOnClosedPipe(err: NodeJS.ErrnoException): void {
  if (err.code !== "EPIPE") throw err;
  process.exit(0);
}

process.stdout.on("error", exitOnClosedPipe);
process.exitCode = await runCli(process.argv.slice(2), processDeps());
