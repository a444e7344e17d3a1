// The ELF reader and library resolver against real host programs, checked
// against what ldd (the loader itself) says.
import { execFileSync } from "node:child_process";
import { realpathSync } from "node:fs";
import t from "tap";
import { parseElf, readElf } from "../../src/image/elf.js";
import { resolveLibraries } from "../../src/image/libs.js";

/** ldd's answer: needed name → resolved path, plus the interpreter. */
function ldd(path: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of execFileSync("ldd", [path], { encoding: "utf8" }).split("\n")) {
    const arrow = /^\s*(\S+) => (\S+) \(/.exec(line);
    const bare = /^\s*(\/\S+) \(/.exec(line);
    if (arrow) out.set(arrow[1]!, arrow[2]!);
    else if (bare) out.set(bare[1]!, bare[1]!);
  }
  return out;
}

t.test("reads node's interpreter and DT_NEEDED", async (t) => {
  const elf = readElf("/usr/bin/node");
  if ("error" in elf) throw new Error(elf.error);
  t.equal(elf.value.interp, "/lib64/ld-linux-x86-64.so.2");
  t.ok(elf.value.needed.includes("libc.so.6"));
  t.equal(elf.value.soname, undefined, "a program has no soname");
  // ldd lists the interpreter once, by path, though node also needs it by soname.
  const known = new Set([...ldd("/usr/bin/node").keys()].map((k) => k.replace(/^.*\//, "")));
  for (const name of elf.value.needed) t.ok(known.has(name), `ldd knows ${name}`);
});

t.test("resolves node's libraries transitively to the files ldd names", async (t) => {
  const expected = ldd("/usr/bin/node");
  const libs = resolveLibraries(["/usr/bin/node"]);
  if ("error" in libs) throw new Error(libs.error);
  const got = new Map(libs.value.map((l) => [l.name, l.source]));
  t.same([...got.keys()].sort(), [...expected.keys()].sort(), "the same set of objects");
  for (const [name, path] of expected) t.equal(realpathSync(got.get(name)!), realpathSync(path), name);
});

t.test("places standard-directory libraries in /usr/lib/x86_64-linux-gnu and the interpreter at its path", async (t) => {
  const libs = resolveLibraries(["/usr/bin/node"]);
  if ("error" in libs) throw new Error(libs.error);
  const dests = libs.value.map((l) => l.dest);
  t.ok(dests.includes("/usr/lib/x86_64-linux-gnu/libc.so.6"));
  t.ok(dests.includes("/usr/lib64/ld-linux-x86-64.so.2"), "/lib64 is a link to usr/lib64 in the image");
  t.same(dests, [...dests].sort(), "sorted");
});

t.test("reads a library's soname", async (t) => {
  t.match(readElf("/lib/x86_64-linux-gnu/libc.so.6"), { value: { soname: "libc.so.6", needed: ["ld-linux-x86-64.so.2"] } });
});

t.test("a library found nowhere is an error naming it and who needs it", async (t) => {
  const libs = resolveLibraries(["/usr/bin/node"], ["/nonexistent"]);
  t.ok("error" in libs && /libc\.so\.6 \(needed by \/usr\/bin\/node\)/.test(libs.error));
});

t.test("non-ELF files need nothing; other ELF classes are refused", async (t) => {
  t.same(resolveLibraries(["/etc/os-release"]), { value: [] });
  const head = Buffer.alloc(64);
  head.writeUInt32BE(0x7f454c46, 0);
  head[4] = 1;
  head[5] = 1;
  const r = parseElf((pos, len) => head.subarray(pos, pos + len));
  t.match(r, { error: /64-bit/ });
});
