import t from "tap";
import { createCA } from "../../src/pki/certs.js";
import { generateSecrets, parseSecrets, stringifySecrets } from "../../src/pki/secrets-bundle.js";

const bundle = await generateSecrets("lab");

t.test("a secrets bundle round trips through its YAML", async (t) => {
  const parsed = parseSecrets(stringifySecrets(bundle));
  t.same(parsed, { value: bundle });
});

t.test("tokens have the bootstrap-token shape and differ", async (t) => {
  t.match(bundle.machine.token, /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
  t.match(bundle.cluster.token, /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
  t.not(bundle.machine.token, bundle.cluster.token);
  t.not(bundle.machine.ca.crt, bundle.cluster.ca.crt);
});

t.test("reports every problem with its path", async (t) => {
  const text = stringifySecrets(bundle).replace(/token: .*\n/, "token: nope\n").replace("kind: SecretsBundle", "kind: Secrets");
  const parsed = parseSecrets(`${text}extra: 1\n`);
  t.same(parsed, {
    errors: [
      'kind: expected "SecretsBundle", got "Secrets"',
      'machine.token: expected a token such as abcdef.0123456789abcdef (6 and 16 characters a-z, 0-9, joined by \'.\'), got "******"',
      "extra: unknown key; expected one of apiVersion, kind, name, machine, cluster, etcd, serviceAccount, frontProxy",
    ],
  });
});

t.test("refuses a CA whose key is not its certificate's", async (t) => {
  const other = await createCA("other");
  const text = stringifySecrets({ ...bundle, cluster: { ...bundle.cluster, ca: { crt: bundle.cluster.ca.crt, key: other.key } } });
  t.same(parseSecrets(text), { errors: ["cluster.ca.key: does not belong to cluster.ca.crt; expected the certificate's private key"] });
});

t.test("reports YAML syntax errors", async (t) => {
  const parsed = parseSecrets("a: [\n");
  t.match(parsed, { errors: [/^YAML syntax error: /] });
});
