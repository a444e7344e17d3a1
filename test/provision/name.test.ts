// Machine names are DNS labels: they name a directory, a socket and a hostname.
import t from "tap";
import { checkName, nameProblem } from "../../src/provision/sandbox/name.js";

t.test("accepts lowercase letters, digits and inner dashes", async (t) => {
  for (const name of ["a", "node-1", "0", "k8s-worker-03", "x".repeat(63)]) t.equal(nameProblem(name), undefined, name);
});

t.test("rejects anything else, saying what was expected and what came", async (t) => {
  t.equal(nameProblem(""), 'Expected the machine name to be a non-empty string, got ""');
  t.equal(nameProblem(undefined), "Expected the machine name to be a non-empty string, got undefined");
  t.equal(nameProblem("x".repeat(64)), "Expected the machine name to be at most 63 characters, got 64");
  for (const name of ["A", "-a", "a-", "a_b", "a.b", "../x", "a b", "ä"]) {
    t.match(nameProblem(name), /^Expected the machine name to be lowercase letters, digits and inner dashes \(\[a-z0-9-\]\), got "/, name);
  }
  t.throws(() => checkName("Bad"), /got "Bad"/);
});
