// Fuzz: valid configs mutated (keys deleted, types changed, huge strings, deep
// nesting, duplicate keys, alias bombs, random bytes) through machined's real
// path: parse and validation in the config worker (bundled as the image
// ships it), then diff and stringify on this thread. Nothing throws (problems
// come back as values), nothing blocks the event loop, and what validates
// survives a round trip with its secrets hidden from readers.
import { setTimeout as sleep } from "node:timers/promises";
import t from "tap";
import { diffConfig } from "../../src/config/diff.js";
import { type ParseResult, parseConfig } from "../../src/config/parse.js";
import type { MachineConfig } from "../../src/config/schema.js";
import type { ConfigParser } from "../../src/machined/config-parser.js";
import { redactConfig } from "../../src/config/secrets.js";
import { stringifyConfig } from "../../src/config/stringify.js";
import { maxConfigBytes } from "../../src/machinery/api-limits.js";
import { configOf } from "../config/fixtures.js";
import { bundledConfigParsers } from "../fixtures/config/config-worker.js";
import { mutate, plantedSecret, seedConfigs, smallConfigBytes } from "./fixtures/configs.js";
import { type LoopWatch, maxLoopDelayMs, watchEventLoop } from "./fixtures/loop-delay.js";
import { createRng, fuzzBudgetMs, fuzzSeed, type Rng, reproduceLine } from "./rng.js";

const seed = fuzzSeed();
const budgetMs = fuzzBudgetMs(0.35);
/** Small configs: each must cost under the loop bound in all (see smallConfigBytes). */
const smallBytes = smallConfigBytes;
/** No config the API accepts may take longer than this: nothing super-linear, no hang. */
const largeBoundMs = 5000;
const secret = plantedSecret(seed);
const createParser = bundledConfigParsers(t);
t.comment(reproduceLine("config.test.ts", seed, budgetMs));

/** What machined does with a config it is sent: parse and validate (in the worker), diff against the current one, show it as YAML. */
async function accept(parser: ConfigParser, text: string, bases: MachineConfig[]): Promise<ParseResult> {
  const parsed = await parser.parse(text);
  if ("config" in parsed) for (const base of bases) diffConfig(base, parsed.config);
  if ("config" in parsed) stringifyConfig(parsed.config);
  return parsed;
}

/** What one case's result says is wrong, or undefined. */
function check(parsed: ParseResult): string | undefined {
  if (!("config" in parsed)) {
    if (!Array.isArray(parsed.errors) || parsed.errors.length === 0) return "rejected without saying why";
    if (parsed.errors.some((e) => typeof e !== "string" || e.length > 4096)) return "an error is not a string of at most 4 KiB";
    return undefined;
  }
  const again = parseConfig(stringifyConfig(parsed.config));
  if (!("config" in again)) return `does not survive stringify and parse: ${again.errors.join("; ").slice(0, 500)}`;
  if (diffConfig(parsed.config, again.config).changes.length > 0) return "stringify and parse change it";
  const shown = redactConfig(parsed.config);
  const hidden = [...Object.values(shown.machine.env ?? {}), ...(shown.machine.files ?? []).map((f) => f.content ?? "")];
  if (hidden.some((v) => String(v).includes(secret))) return "a reader would see the planted secret";
  return undefined;
}

/** One case: machined's work timed alone (the loop watched), then the checks; how long it took and what went wrong. */
async function runCase(parser: ConfigParser, text: string, bases: MachineConfig[], loop: LoopWatch, boundMs: number): Promise<{ ms: number; problem?: string }> {
  await loop.resume();
  const work = loop.measure();
  let parsed: ParseResult;
  try {
    parsed = await accept(parser, text, bases);
  } catch (err) {
    return { ms: work.end().cpuMs, problem: `threw ${(err as Error)?.stack?.slice(0, 800) ?? String(err)}` };
  }
  const { cpuMs: ms } = work.end();
  await sleep(15);
  loop.pause();
  if (ms > boundMs) return { ms, problem: `took ${Math.round(ms)} ms of CPU (${text.length} bytes), over ${boundMs} ms` };
  try {
    const problem = check(parsed);
    return problem ? { ms, problem } : { ms };
  } catch (err) {
    return { ms, problem: `checking it threw ${(err as Error)?.stack?.slice(0, 800) ?? String(err)}` };
  }
}

/** Mutated configs cut to `maxBytes`, for `ms`: every failure (five at most), the slowest case, the loop's worst delay. */
async function fuzzConfigs(rng: Rng, ms: number, maxBytes: number, boundMs: number) {
  const texts = seedConfigs(secret);
  const bases = texts.map(configOf);
  const parser = createParser();
  await parser.parse(texts[0] ?? ""); // the worker's start is not a case
  const loop = watchEventLoop();
  loop.pause();
  const started = Date.now();
  let cases = 0;
  let slowest = { ms: 0, case: -1, bytes: 0 };
  const failures: string[] = [];
  while (Date.now() - started < ms && failures.length < 5) {
    const text = mutate(rng, rng.pick(texts)).slice(0, maxBytes);
    const out = await runCase(parser, text, bases, loop, boundMs);
    if (out.ms > slowest.ms) slowest = { ms: out.ms, case: cases, bytes: text.length };
    if (out.problem) failures.push(`case ${cases} (seed ${seed}): ${out.problem}\n  input starts: ${JSON.stringify(text.slice(0, 300))}`);
    cases++;
  }
  loop.stop();
  const summary = `${cases} configs in ${Date.now() - started} ms; slowest: case ${slowest.case}, ${slowest.bytes} bytes, ${Math.round(slowest.ms)} ms of CPU; ${loop.describe()}`;
  return { cases, failures, summary, loop };
}

t.test(`configs up to ${smallBytes / 1024} KiB: refused or accepted, never thrown, the loop never blocked over ${maxLoopDelayMs} ms`, async (t) => {
  const run = await fuzzConfigs(createRng(seed), budgetMs * 0.7, smallBytes, maxLoopDelayMs);
  t.comment(run.summary);
  t.ok(run.cases > 0, "cases ran");
  t.same(run.failures, [], "every mutated config is accepted or refused with its problems, quickly");
  t.ok(run.loop.withinBound(), `the event loop's max delay ${Math.round(run.loop.maxMs())} ms is within ${Math.round(run.loop.boundMs())} ms`);
});

t.test(`configs up to the API's ${maxConfigBytes / 1024} KiB: refused or accepted, never thrown, each within ${largeBoundMs} ms`, async (t) => {
  const run = await fuzzConfigs(createRng(seed ^ 0x5a5a5a5a), budgetMs * 0.3, maxConfigBytes, largeBoundMs);
  t.comment(run.summary);
  t.ok(run.cases > 0, "cases ran");
  t.same(run.failures, [], "every mutated config is accepted or refused with its problems in bounded time");
  t.ok(run.loop.withinBound(), `the event loop's max delay ${Math.round(run.loop.maxMs())} ms is within ${Math.round(run.loop.boundMs())} ms`);
});
