// kilnctl's command tree and the one place failures become exit codes and
// the single `kilnctl: <what failed>: <reason>` line on stderr.
import { Command, CommanderError } from "commander";
import { createApplyConfigCommand } from "./commands/apply-config.js";
import { createClusterCommand } from "./commands/cluster.js";
import { createCompletionCommand } from "./commands/completion.js";
import { createEditCommand } from "./commands/edit-config.js";
import { createEventsCommand } from "./commands/events.js";
import { createGetCommand } from "./commands/get.js";
import { createLogsCommand } from "./commands/logs.js";
import { createPatchCommand } from "./commands/patch-config.js";
import { createRebootCommand } from "./commands/reboot.js";
import { createResetCommand } from "./commands/reset.js";
import { createRollbackCommand } from "./commands/rollback.js";
import { createBootstrapCommand } from "./commands/bootstrap.js";
import { createHealthCommand } from "./commands/health.js";
import { createKubeconfigCommand } from "./commands/kubeconfig.js";
import { createServiceCommand } from "./commands/service.js";
import { createShutdownCommand } from "./commands/shutdown.js";
import { createUpgradeCommand } from "./commands/upgrade.js";
import { createValidateCommand } from "./commands/validate.js";
import { createVersionCommand } from "./commands/version.js";
import { createContainersCommand } from "./commands/containers.js";
import { createImagesCommand } from "./commands/images.js";
import { createDmesgCommand } from "./commands/dmesg.js";
import { createHostnameCommand } from "./commands/hostname.js";
import { createListCommand } from "./commands/list.js";
import { createMemoryCommand } from "./commands/memory.js";
import { createMountsCommand } from "./commands/mounts.js";
import { createProcessesCommand } from "./commands/processes.js";
import { createReadCommand } from "./commands/read.js";
import { createTimeCommand } from "./commands/time.js";
import { createConfigCommand } from "./commands/config-group.js";
import { createGenCommand } from "./commands/gen-group.js";
import { createImageCommand } from "./commands/image-build.js";
import type { CliDeps } from "./deps.js";
import { CliError, describeError, formatFailure, usageError } from "./errors.js";
import { takeNodeFailures } from "./node-messages.js";
import { ExitCode } from "./exit-codes.js";
import { addGlobalOptions } from "./global-options.js";

/** The kilnctl program with every command. */
export function createProgram(deps: CliDeps): Command {
  const program = new Command("kilnctl")
    .description("manage kiln machines through their API")
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => deps.io.stdout.write(s),
      writeErr: (s) => deps.io.stderr.write(s),
      outputError: () => undefined,
    });
  addGlobalOptions(program, { connect: true });
  const commands = [createVersionCommand, createServiceCommand, createLogsCommand, createEventsCommand, createRebootCommand,
    createShutdownCommand, createResetCommand, createUpgradeCommand, createRollbackCommand, createBootstrapCommand, createKubeconfigCommand, createHealthCommand, createApplyConfigCommand, createGetCommand, createValidateCommand, createClusterCommand];
  for (const create of commands) program.addCommand(inherit(create(deps), program));
  const inspectCommands = [createDmesgCommand, createMemoryCommand, createProcessesCommand, createMountsCommand, createContainersCommand, createImagesCommand,
    createListCommand, createReadCommand, createTimeCommand, createHostnameCommand];
  for (const create of inspectCommands) program.addCommand(inherit(create(deps), program));
  program.addCommand(inherit(createEditCommand(deps), program));
  program.addCommand(inherit(createPatchCommand(deps), program));
  program.addCommand(inherit(createCompletionCommand(deps), program));
  program.addCommand(inherit(createGenCommand(deps), program));
  program.addCommand(inherit(createConfigCommand(deps), program));
  program.addCommand(inherit(createImageCommand(deps), program));
  return program;
}

/** Gives a command and its subcommands the program's error and output settings. */
function inherit(cmd: Command, program: Command): Command {
  cmd.copyInheritedSettings(program);
  for (const sub of cmd.commands) inherit(sub, program);
  return cmd;
}

/** Runs kilnctl with `argv` (without node and script); resolves with the exit code. */
export async function runCli(argv: string[], deps: CliDeps): Promise<number> {
  try {
    await createProgram(deps).parseAsync(argv, { from: "user" });
    return reportNodeFailures(deps) ? ExitCode.failure : ExitCode.ok;
  } catch (err) {
    const failure = asCliError(err);
    if (failure.exitCode === ExitCode.ok) return ExitCode.ok;
    reportNodeFailures(deps);
    deps.io.stderr.write(formatFailure(failure));
    return failure.exitCode;
  }
}

/** One stderr line per node that failed in a fan-out; whether there was any. */
function reportNodeFailures(deps: CliDeps): boolean {
  const failures = takeNodeFailures();
  for (const f of failures) deps.io.stderr.write(formatFailure(f));
  return failures.length > 0;
}

/** Commander's errors are usage errors (help and --version exit 0); anything else unexpected is a failure. */
function asCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof CommanderError) {
    if (err.exitCode === 0) return new CliError("", "", ExitCode.ok);
    if (err.code === "commander.help") return usageError("usage", "a command is required (see kilnctl --help)");
    return usageError("usage", err.message.replace(/^error: /, ""));
  }
  return new CliError("unexpected error", describeError(err), ExitCode.failure, { cause: err });
}
