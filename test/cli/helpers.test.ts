import t from "tap";
import { durationMs, formatDuration, parseDurationFlag } from "../../src/cli/duration.js";
import { parseEndpoint } from "../../src/cli/endpoint.js";
import { CliError, connectionReason, describeError, formatFailure, toCliError } from "../../src/cli/errors.js";
import { ExitCode, exitCodeOf } from "../../src/cli/exit-codes.js";
import { ApiError, Code } from "../../src/grpc/errors.js";

/** What `fn` throws. */
function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
}

t.test("parses durations with units, combined units and bare seconds", async (t) => {
  t.equal(durationMs("30s"), 30_000);
  t.equal(durationMs("500ms"), 500);
  t.equal(durationMs("1m30s"), 90_000);
  t.equal(durationMs("2h"), 7_200_000);
  t.equal(durationMs("1.5"), 1500);
  t.equal(durationMs("0"), 0);
  t.equal(durationMs("1x"), undefined);
  t.equal(durationMs("s"), undefined);
  t.equal(durationMs("10s junk"), undefined);
});

t.test("names the flag when a duration is malformed", async (t) => {
  t.match(caught(() => parseDurationFlag("--timeout", "soon")), { what: "--timeout", exitCode: ExitCode.usage });
});

t.test("formats ages in their two largest units", async (t) => {
  t.equal(formatDuration(800), "800ms");
  t.equal(formatDuration(5_000), "5s");
  t.equal(formatDuration(192_000), "3m12s");
  t.equal(formatDuration(7_500_000), "2h5m");
  t.equal(formatDuration(3 * 86_400_000 + 4 * 3_600_000), "3d4h");
  t.equal(formatDuration(3_600_000), "1h");
});

t.test("accepts unix endpoints in three spellings, TCP endpoints, and refuses others", async (t) => {
  t.equal(parseEndpoint("unix:///run/m.sock"), "unix:///run/m.sock");
  t.equal(parseEndpoint("unix:/run/m.sock"), "unix:///run/m.sock");
  t.equal(parseEndpoint("/run/m.sock"), "unix:///run/m.sock");
  t.equal(parseEndpoint("./m.sock"), `unix://${process.cwd()}/m.sock`);
  t.equal(parseEndpoint("10.0.0.1:50000"), "dns:10.0.0.1:50000");
  t.match(caught(() => parseEndpoint("https://x")), { exitCode: ExitCode.usage });
  t.match(caught(() => parseEndpoint("/a.sock,/b.sock")), { reason: /expected one endpoint, got 2/ });
});

t.test("maps gRPC codes to exit codes", async (t) => {
  t.equal(exitCodeOf(Code.NOT_FOUND), ExitCode.notFound);
  t.equal(exitCodeOf(Code.UNAVAILABLE), ExitCode.unavailable);
  t.equal(exitCodeOf(Code.DEADLINE_EXCEEDED), ExitCode.timeout);
  t.equal(exitCodeOf(Code.INVALID_ARGUMENT), ExitCode.failure);
  t.equal(exitCodeOf(Code.FAILED_PRECONDITION), ExitCode.failure);
});

t.test("reports API errors with what failed and a one-line reason", async (t) => {
  const notFound = toCliError(new ApiError(Code.NOT_FOUND, 'service "nope" not found'), { what: 'service "nope"' });
  t.equal(formatFailure(notFound), 'kilnctl: service "nope": not found\n');
  const invalid = toCliError(new ApiError(Code.INVALID_ARGUMENT, "config is invalid:\na: bad\nb: bad"), { what: "applying c.yaml" });
  t.equal(formatFailure(invalid), "kilnctl: applying c.yaml: config is invalid: a: bad; b: bad\n");
  t.equal(invalid.exitCode, ExitCode.failure);
  const late = toCliError(new ApiError(Code.DEADLINE_EXCEEDED, "Deadline exceeded"), { what: "rebooting", timeout: "30s" });
  t.equal(formatFailure(late), "kilnctl: rebooting: timed out after 30s\n");
  t.equal(late.exitCode, ExitCode.timeout);
});

t.test("names the endpoint when the machine API cannot be reached", async (t) => {
  const err = new ApiError(Code.UNAVAILABLE, "No connection established. Last error: connect ECONNREFUSED /x.sock");
  const e = toCliError(err, { what: "listing services", endpoint: "unix:///x.sock" });
  t.equal(formatFailure(e), "kilnctl: connecting to unix:///x.sock: connection refused (is machined running?)\n");
  t.equal(e.exitCode, ExitCode.unavailable);
  t.equal(connectionReason("connect ENOENT /x.sock"), "no such socket");
  t.equal(connectionReason("connect EACCES /x.sock"), "permission denied");
});

t.test("describes plain errors with their causes and errno codes in words", async (t) => {
  const enoent = Object.assign(new Error("ENOENT: no such file or directory, open 'x'"), { code: "ENOENT" });
  t.equal(describeError(enoent), "no such file or directory");
  t.equal(describeError(new Error("starting", { cause: new Error("unshare failed") })), "starting: unshare failed");
  t.equal(describeError("plain"), "plain");
  const e = toCliError(new Error("boom"), { what: "creating cluster" });
  t.ok(e instanceof CliError);
  t.equal(e.exitCode, ExitCode.failure);
});
