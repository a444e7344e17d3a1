// The kernel command line as the kernel reads it: quotes group, `--` ends
// the kernel's part, the last occurrence wins.
import t from "tap";
import { cmdlineValue, parseCmdline } from "../../../src/machined/config-sources/kernel-cmdline.js";

t.test("splits words into keys and values, bare words without a value", async (t) => {
  t.same(parseCmdline("console=ttyS0 quiet  kiln.config=http://a/b?c=d\n"), [
    ["console", "ttyS0"],
    ["quiet", undefined],
    ["kiln.config", "http://a/b?c=d"],
  ]);
});

t.test("groups quoted spaces and drops the quotes, around the value or the whole word", async (t) => {
  t.same(parseCmdline('a="x y" "b=1 2" c=""'), [
    ["a", "x y"],
    ["b", "1 2"],
    ["c", ""],
  ]);
});

t.test("stops at -- : what follows is init's", async (t) => {
  t.same(parseCmdline("a=1 -- kiln.config=http://x/"), [["a", "1"]]);
  t.equal(cmdlineValue("a=1 -- kiln.config=http://x/", "kiln.config"), undefined);
});

t.test("the last occurrence of a key wins", async (t) => {
  t.equal(cmdlineValue("kiln.config=http://a/ ro kiln.config=http://b/", "kiln.config"), "http://b/");
  t.equal(cmdlineValue('kiln.config=http://a/ kiln.config="none"', "kiln.config"), "none");
});

t.test("a key without = has no value, and a longer key does not match", async (t) => {
  t.equal(cmdlineValue("kiln.config", "kiln.config"), undefined);
  t.equal(cmdlineValue("kiln.configx=1 xkiln.config=2", "kiln.config"), undefined);
  t.equal(cmdlineValue("", "kiln.config"), undefined);
});
