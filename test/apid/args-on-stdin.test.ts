// argsFromStdin: apid started ahead reads its arguments as one JSON line.
import { Readable } from "node:stream";
import t from "tap";
import { argsFromStdin } from "../../src/apid/args-on-stdin.js";

const from = (...chunks: string[]) => Readable.from(chunks.map((c) => Buffer.from(c)));

t.test("the first line's array, even when it comes in pieces", async (t) => {
  t.same(await argsFromStdin(from('["--port", "50', '000", "--maintenance"]\nignored')), ["--port", "50000", "--maintenance"]);
});

t.test("stdin closed without a line: not needed", async (t) => {
  t.equal(await argsFromStdin(from()), undefined);
  t.equal(await argsFromStdin(from('["no newline"]')), undefined);
});

t.test("anything but a JSON array of strings is refused, saying what was wrong", async (t) => {
  await t.rejects(argsFromStdin(from("--port 1\n")), /--args-on-stdin: stdin's line is not JSON/);
  await t.rejects(argsFromStdin(from('{"port": 1}\n')), /must be a JSON array of strings/);
  await t.rejects(argsFromStdin(from('["a", 1]\n')), /must be a JSON array of strings/);
  await t.rejects(argsFromStdin(from("x".repeat(70 * 1024))), /no newline in the first 65536 bytes/);
});
