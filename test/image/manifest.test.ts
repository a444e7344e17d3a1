// Manifest validation: every problem reported, each naming its path.
import t from "tap";
import { parseManifest } from "../../src/image/manifest.js";

// biome-ignore lint/suspicious/noTemplateCurlyInString: ${NAME} is manifest syntax
t.test("accepts a manifest and expands ${KILN_CACHE}", async (t) => {
  const r = parseManifest(
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${NAME} is manifest syntax
    ["binaries:", "  - from: /usr/bin/node", "  - dir: /usr/lib/cni", "  - from: [\"${KILN_CACHE}/kubelet\", /usr/bin/kubelet]", "    optional: true",
     "mountPoints: [/proc, /sys]", "symlinks:", "  /sbin/init: /usr/lib/kiln/machined.cjs"].join("\n"),
    { KILN_CACHE: "/c" },
  );
  t.same(r, {
    value: {
      binaries: [
        { optional: false, from: ["/usr/bin/node"] },
        { optional: false, dir: "/usr/lib/cni" },
        { optional: true, from: ["/c/kubelet", "/usr/bin/kubelet"] },
      ],
      mountPoints: ["/proc", "/sys"],
      symlinks: { "/sbin/init": "/usr/lib/kiln/machined.cjs" },
    },
  });
});

t.test("collects every error with its path, what was expected and what came", async (t) => {
  const r = parseManifest(
    ["binaries:", "  - from: usr/bin/node", "  - to: /x", "  - from: /a", "    dir: /b", "    optional: yes please", "    colour: red",
     "mountPoints: /proc", "extra: 1", "symlinks:", "  /a: 3"].join("\n"),
  );
  if (!("errors" in r)) throw new Error("expected errors");
  t.same(r.errors.sort(), [
    "binaries[0].from: expected an absolute path, got \"usr/bin/node\" (string)",
    "binaries[1]: expected exactly one of `from` or `dir`",
    "binaries[2]: expected exactly one of `from` or `dir`",
    "binaries[2].colour: unknown key (expected one of from, dir, to, optional)",
    "binaries[2].optional: expected a boolean, got \"yes please\" (string)",
    "extra: unknown key (expected one of binaries, mountPoints, symlinks)",
    "mountPoints: expected a list, got \"/proc\" (string)",
    "symlinks[\"/a\"]: expected a target path, got 3 (number)",
  ].sort());
});

t.test("unknown variables and bad YAML are errors", async (t) => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: ${NAME} is manifest syntax
  t.same(parseManifest("binaries:\n  - from: ${NOPE}/x\n", { KILN_CACHE: "/c" }), {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${NAME} is manifest syntax
    errors: ["binaries[0].from: unknown variable ${NOPE} (known: KILN_CACHE)"],
  });
  t.match(parseManifest("binaries: [\n"), { errors: [/invalid YAML/] });
  t.same(parseManifest("- 1\n"), { errors: ["manifest: expected a mapping, got a list"] });
});

t.test("the repository's manifest is valid", async (t) => {
  const { readFileSync } = await import("node:fs");
  const text = readFileSync(new URL("../../rootfs/manifest.yaml", import.meta.url), "utf8");
  t.ok("value" in parseManifest(text, { KILN_CACHE: "/c" }));
});
