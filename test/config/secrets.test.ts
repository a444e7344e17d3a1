import t from "tap";
import { leafPaths } from "../../src/config/introspect.js";
import { parseConfig } from "../../src/config/parse.js";
import { machineConfigSchema } from "../../src/config/schema.js";
import { readerViews, redactConfig, redacted, secretPaths } from "../../src/config/secrets.js";
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
  t.strictSame(shown.machine.env, { A: redacted }, "env: the names stay, the values go");
});

t.test("leaves the original config untouched", async (t) => {
  redactConfig(secret);
  t.equal(secret.machine.ca?.key, testCa.key);
});

t.test("does not add secrets a config does not set", async (t) => {
  const plain = configOf(worker({ hostname: "node-1" }));
  t.strictSame(redactConfig(plain), plain);
});

t.test("leaves no secret in the printed redacted config", async (t) => {
  const text = stringifyConfig(redactConfig(secret));
  for (const value of [testCa.key, "abcdef.0123456789abcdef", "0123ab.fedcba9876543210"]) t.notOk(text.includes(value));
});

t.test("the credentials are the CA keys, the service-account key, the tokens and the registry logins and client keys", async (t) => {
  t.strictSame([...secretPaths], [
    "machine.ca.key",
    "machine.token",
    "machine.registries.hosts[].tls.clientKey",
    "machine.registries.hosts[].auth.password",
    "machine.registries.hosts[].auth.identityToken",
    "cluster.ca.key",
    "cluster.serviceAccount.key",
    "cluster.frontProxy.ca.key",
    "cluster.etcd.ca.key",
    "cluster.token",
  ]);
});

t.test("every schema leaf says what readers see of it: no leaf is shown by omission", async (t) => {
  const leaves = leafPaths(machineConfigSchema);
  t.same(leaves.filter((p) => !(p in readerViews)), [], "every leaf is in readerViews");
  t.same(Object.keys(readerViews).filter((p) => !leaves.includes(p)), [], "and readerViews names no leaf that is gone");
});

t.test("hides what may hold a secret: env, file contents, extra args, service argv and env, URL credentials", async (t) => {
  const yaml = worker({
    env: { HTTPS_PROXY: "http://u:proxy-pw@proxy:3128" },
    files: [{ path: "/var/lib/app/token", content: "file-secret", permissions: 0o600, op: "create" }],
    kubelet: { extraArgs: { "bootstrap-token": "kubelet-secret" } },
    install: { disk: "/dev/vda", image: "https://user:image-pw@images.example.com/kiln.raw.zst?sig=image-sig" },
    services: [{ id: "agent", command: ["/usr/bin/agent", "--password=argv-secret"], env: { TOKEN: "service-env-secret" }, restart: "forever" }],
  });
  const shown = JSON.stringify(redactConfig(configOf(yaml)));
  for (const s of ["proxy-pw", "file-secret", "kubelet-secret", "image-pw", "image-sig", "argv-secret", "service-env-secret"]) t.notOk(shown.includes(s), `${s} is hidden`);
  for (const s of ["/var/lib/app/token", "images.example.com", "HTTPS_PROXY", "bootstrap-token", "agent"]) t.ok(shown.includes(s), `${s} (not secret) is shown`);
});

t.test("a validation error names a secret field's path, never its value", async (t) => {
  const mistyped = "abcdef.0123456789abcdeX-nearly-right";
  const parsed = parseConfig(worker({ token: mistyped, env: { A: 1 as unknown as string } }));
  t.ok("errors" in parsed);
  const errors = "errors" in parsed ? parsed.errors.join("\n") : "";
  t.match(errors, /machine\.token: expected a token .*, got "\*{6}"/);
  t.notOk(errors.includes(mistyped), "the mistyped token is not repeated");
  t.match(errors, /machine\.env\.A: /, "the path is named");
});
