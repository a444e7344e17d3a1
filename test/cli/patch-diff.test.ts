// The unified diff `edit config` and `patch config` print, and the YAML update
// that keeps a patched config's comments and style.
import t from "tap";
import { unifiedDiff } from "../../src/cli/text-diff.js";
import { updateYaml } from "../../src/cli/yaml-update.js";

const names = { from: "a", to: "b" };
const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}\n`).join("");

t.test("equal texts have an empty diff", async (t) => {
  t.equal(unifiedDiff("x\ny\n", "x\ny\n", names), "");
});

t.test("a changed line shows with three lines of context, removal before addition", async (t) => {
  const after = lines(10).replace("line 5\n", "five\n");
  t.equal(unifiedDiff(lines(10), after, names), "--- a\n+++ b\n@@ -2,7 +2,7 @@\n line 2\n line 3\n line 4\n-line 5\n+five\n line 6\n line 7\n line 8\n");
});

t.test("changes far apart make separate hunks; close ones share one", async (t) => {
  const far = unifiedDiff(lines(20), lines(20).replace("line 2\n", "").replace("line 19\n", "line 19\nnew\n"), names);
  t.equal(far, "--- a\n+++ b\n@@ -1,5 +1,4 @@\n line 1\n-line 2\n line 3\n line 4\n line 5\n@@ -17,4 +16,5 @@\n line 17\n line 18\n line 19\n+new\n line 20\n");
  const close = unifiedDiff(lines(10), lines(10).replace("line 3\n", "").replace("line 8\n", ""), names);
  t.equal(close.match(/^@@/gm)?.length, 1);
});

t.test("adding to an empty text starts at line 0 of the old one", async (t) => {
  t.equal(unifiedDiff("", "a\n", names), "--- a\n+++ b\n@@ -0,0 +1,1 @@\n+a\n");
});

t.test("updating YAML keeps comments, flow lists and key order, and changes only what differs", async (t) => {
  const text = "# top\na: 1 # one\nlist: [x, y]\nmode: 0644\nb:\n  c: true\n";
  t.equal(updateYaml(text, { a: 2, list: ["x", "y", "z"], mode: "0644", b: { c: true, d: "new" } }),
    '# top\na: 2 # one\nlist: [x, y, z]\nmode: "0644"\nb:\n  c: true\n  d: new\n');
  t.equal(updateYaml(text, { a: 1, list: ["x", "y"], mode: "0644" }), '# top\na: 1 # one\nlist: [x, y]\nmode: "0644"\n');
});

t.test("text that is not one YAML document is printed afresh", async (t) => {
  t.equal(updateYaml("a: 1\n---\nb: 2\n", { a: 3 }), "a: 3\n");
});
