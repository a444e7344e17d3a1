import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { createLogFile } from "../../../src/machined/logs/log-file.js";
import { tempDir } from "../helpers.js";

t.test("appends synchronously, creating the directory", async (t) => {
  const path = join(tempDir(t), "var", "log", "svc.log");
  const f = createLogFile(path, 1024);
  f.write(Buffer.from("hello\n"));
  t.equal(readFileSync(path, "utf8"), "hello\n", "on disk before write() returns");
  f.close();
});

t.test("rotates to .1 past the size limit, keeping one old file", async (t) => {
  const path = join(tempDir(t), "svc.log");
  const f = createLogFile(path, 100);
  for (let i = 0; i < 50; i++) f.write(Buffer.from(`line ${String(i).padStart(3, "0")}\n`));
  f.close();
  t.ok(statSync(path).size <= 100);
  t.ok(statSync(`${path}.1`).size <= 100);
  t.notOk(existsSync(`${path}.2`));
  t.match(readFileSync(path, "utf8"), /line 049\n$/);
  t.equal(f.error, undefined);
});

t.test("continues a file that already exists, counting its size", async (t) => {
  const path = join(tempDir(t), "svc.log");
  const a = createLogFile(path, 20);
  a.write(Buffer.from("0123456789012345\n"));
  a.close();
  const b = createLogFile(path, 20);
  b.write(Buffer.from("next\n"));
  b.close();
  t.equal(readFileSync(`${path}.1`, "utf8"), "0123456789012345\n");
  t.equal(readFileSync(path, "utf8"), "next\n");
});

t.test("records a write failure with its cause and stops writing", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "svc.log"), "not a directory");
  const f = createLogFile(join(dir, "svc.log", "x.log"), 100);
  f.write(Buffer.from("x\n"));
  t.match(f.error?.message, /writing log file .*x\.log/);
  t.ok(f.error?.cause, "keeps the cause");
});
