// GRUB's text: the grubenv block (byte-compatible with grub-editenv when it
// is installed) and grub.cfg (syntax-checked by grub-script-check when it is).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { decodeGrubenv, encodeGrubenv, GRUBENV_SIZE, grubCfg, initialGrubenv, slotCmdlineEnv } from "../../src/machinery/grub.js";
import { findProgram } from "../../src/image/grub-tools.js";

const sbin = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/sbin"];

/** A scratch dir removed after the test. */
function scratch(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "kiln-grub-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** GRUB script text written with %{var} for GRUB's \${var} (biome reads "\${" as a template slip). */
function grub(s: string): string {
  return s.replaceAll("%{", "$" + "{");
}

/** The variables of a block that must decode. */
function vars(block: Buffer): Record<string, string> {
  const r = decodeGrubenv(block);
  if ("error" in r) throw new Error(r.error);
  return r.value;
}

t.test("a grubenv round-trips, is exactly 1024 bytes and padded with #", async (t) => {
  const env = { kiln_slot: "B", kiln_try: "", kiln_cmdline: "console=ttyS0 a\\b panic=10" };
  const block = encodeGrubenv(env);
  t.equal(block.length, GRUBENV_SIZE);
  t.ok(block.toString("latin1").startsWith("# GRUB Environment Block\n"));
  t.equal(block[GRUBENV_SIZE - 1], "#".charCodeAt(0));
  t.same(vars(block), env);
  t.match(block.toString("latin1"), /\nkiln_cmdline=console=ttyS0 a\\\\b panic=10\nkiln_slot=B\nkiln_try=\n#/, "sorted, backslashes escaped");
});

t.test("the initial grubenv commits slot A and tries nothing", async (t) => {
  t.same(vars(initialGrubenv()), { kiln_slot: "A", kiln_try: "" });
  t.same(vars(slotCmdlineEnv(" console=ttyS0 panic=10 quiet\n")), { kiln_cmdline: "console=ttyS0 panic=10 quiet" });
});

t.test("encoding refuses newlines, bad names and oversize", async (t) => {
  t.throws(() => encodeGrubenv({ kiln_try: "A\nkiln_slot=B" }), /must be one line/);
  t.throws(() => encodeGrubenv({ "kiln slot": "A" }), /variable name/);
  t.throws(() => encodeGrubenv({ "a=b": "A" }), /variable name/);
  t.throws(() => encodeGrubenv({ big: "x".repeat(1000) }), /do not fit in 1024/);
  const room = GRUBENV_SIZE - encodeGrubenv({}).indexOf("!!!\n") - 4 - "v=\n".length;
  t.equal(encodeGrubenv({ v: "x".repeat(room) }).length, GRUBENV_SIZE, "a block filled to the last byte");
  t.throws(() => encodeGrubenv({ v: "x".repeat(room + 1) }), /1025 bytes/);
});

t.test("decoding refuses other sizes and headers, and reads GRUB's escaped newlines", async (t) => {
  t.match(decodeGrubenv(Buffer.alloc(1023, "#")), { error: /expected 1024 bytes, got 1023/ });
  t.match(decodeGrubenv(Buffer.alloc(1024, "#")), { error: /header/ });
  const escaped = Buffer.alloc(GRUBENV_SIZE, "#");
  escaped.write("# GRUB Environment Block\nmulti=one\\\ntwo\nslash=a\\\\\nx=1\n");
  t.same(vars(escaped), { multi: "one\ntwo", slash: "a\\", x: "1" });
});

t.test("the block is byte-identical to grub-editenv's", async (t) => {
  const editenv = findProgram("grub-editenv", sbin);
  if (!editenv) return void t.plan(0, "grub-editenv is not installed (grub-common)");
  const file = join(scratch(t), "grubenv");
  execFileSync(editenv, [file, "create"]);
  execFileSync(editenv, [file, "set", "kiln_slot=A", "kiln_try=B"]);
  t.same(readFileSync(file), encodeGrubenv({ kiln_try: "B", kiln_slot: "A" }));
  t.equal(execFileSync(editenv, [file, "list"], { encoding: "utf8" }), "kiln_slot=A\nkiln_try=B\n");
});

t.test("grub.cfg reads grubenv, consumes kiln_try before booting and boots each slot from its partition", async (t) => {
  const cfg = grubCfg({ slots: { A: 3, B: 4 }, defaultCmdline: "console=ttyS0 panic=10 quiet\n" });
  t.match(cfg, /\nset timeout=0\n/);
  t.match(cfg, /load_env --file \$\{prefix\}\/grubenv kiln_slot kiln_try\n/);
  t.ok(cfg.indexOf(grub("save_env --file %{prefix}/grubenv kiln_try")) < cfg.indexOf("menuentry"), "save_env runs before any entry");
  t.match(cfg, /if \[ "\$\{default\}" = A \]; then set fallback=1; else set fallback=0; fi/);
  const [a, b] = [cfg.slice(cfg.indexOf('menuentry "kiln A" --id A {'), cfg.indexOf("menuentry \"kiln B\"")), cfg.slice(cfg.indexOf('menuentry "kiln B" --id B {'))];
  t.match(a, grub("set root=(%{kiln_disk},gpt3)\n"));
  t.match(a, "if [ -f /cmdline.grubenv ]; then load_env --file /cmdline.grubenv kiln_cmdline; fi\n");
  t.match(a, grub("linux /vmlinuz %{kiln_cmdline} kiln.slot=A kiln.boot=%{m}\n  initrd /initramfs\n}"));
  t.match(b, grub("set root=(%{kiln_disk},gpt4)\n"));
  t.match(b, grub("kiln.slot=B kiln.boot=%{m}"));
  t.match(cfg, /set kiln_cmdline='console=ttyS0 panic=10 quiet'\n/);
  t.throws(() => grubCfg({ slots: { A: 3, B: 4 }, defaultCmdline: "a='b'" }), /without '/);
  const check = findProgram("grub-script-check", sbin);
  if (!check) return;
  const file = join(scratch(t), "grub.cfg");
  writeFileSync(file, cfg);
  t.doesNotThrow(() => execFileSync(check, [file], { stdio: "pipe" }), "grub-script-check accepts it");
});
