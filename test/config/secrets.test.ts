import t from "tap";
import { redactConfig, redacted, secretPaths } from "../../src/config/secrets.js";
import { stringifyConfig } from "../../src/config/stringify.js";
import { configOf, testCa, worker } from "./fixtures.js";

const secret = configOf(
  worker(
    { ca: testCa, token: "abcdef.0123456789abcdef", env: { A: "b" } },
    { cluster: { ca: testCa, token: "0123ab.fedcba9876543210", name: "lab" } },
  ),
);

t.test("replaces every CA key and token with stars and keeps certificates", async (t) => {
  const shown = redactConfig(secret);
  t.equal(shown.machine.ca?.key, redacted);
  t.equal(shown.machine.token, redacted);
  t.equal(shown.cluster?.ca?.key, redacted);
  t.equal(shown.cluster?.token, redacted);
  t.equal(shown.machine.ca?.crt, testCa.crt);
  t.equal(shown.cluster?.ca?.crt, testCa.crt);
  t.strictSame(shown.machine.env, { A: "b" });
});

t.test("leaves the original config untouched", async (t) => {
  redactConfig(secret);
  t.equal(secret.machine.ca?.key, testCa.key);
});

t.test("does not add secrets a config does not set", async (t) => {
  const plain = configOf(worker({}));
  t.strictSame(redactConfig(plain), plain);
});

t.test("leaves no secret in the printed redacted config", async (t) => {
  const text = stringifyConfig(redactConfig(secret));
  for (const value of [testCa.key, "abcdef.0123456789abcdef", "0123ab.fedcba9876543210"]) t.notOk(text.includes(value));
});

t.test("documents four secret paths", async (t) => {
  t.strictSame([...secretPaths], ["machine.ca.key", "machine.token", "cluster.ca.key", "cluster.token"]);
});
