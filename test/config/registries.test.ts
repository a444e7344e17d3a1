// machine.registries: mirrors and per-host TLS and logins, each refused with
// its path and the fix when it could not work.
import t from "tap";
import { parseConfig } from "../../src/config/parse.js";
import { redactConfig, redacted, secretsSet } from "../../src/config/secrets.js";
import { configOf, strangerKey, testCa, worker } from "./fixtures.js";

/** The errors of a worker document with these registries (none when it is valid). */
function errorsOf(registries: unknown): string[] {
  const parsed = parseConfig(worker({ registries }));
  return "errors" in parsed ? parsed.errors : [];
}

const good = {
  mirrors: [{ registry: "docker.io", endpoints: ["https://mirror.local:5000", "http://10.0.0.5:5000/v2-prefix"] }],
  hosts: [
    { host: "mirror.local:5000", tls: { ca: testCa.crt, clientCert: testCa.crt, clientKey: testCa.key }, auth: { username: "puller", password: "s3cret" } },
    { host: "registry.k8s.io", tls: { insecureSkipVerify: true }, auth: { identityToken: "refresh-token" } },
  ],
};

t.test("accepts mirrors, TLS and logins as written", async (t) => {
  t.same(errorsOf(good), []);
  const config = configOf(worker({ registries: good }));
  t.same(config.machine.registries, good);
});

t.test("refuses hosts that are no registry host, naming the path", async (t) => {
  const errors = errorsOf({ mirrors: [{ registry: "Docker.IO", endpoints: ["https://m"] }], hosts: [{ host: "https://r.local" }, { host: "r.local:70000" }] });
  t.match(errors[0], /^machine\.registries\.mirrors\[0\]\.registry: expected a registry host as image names write it, such as docker\.io.*, got "Docker\.IO"$/);
  t.match(errors[1], /^machine\.registries\.hosts\[0\]\.host: expected a registry host .*, got "https:\/\/r\.local"$/);
  t.match(errors[2], /^machine\.registries\.hosts\[1\]\.host: .*got "r\.local:70000"$/);
});

t.test("refuses endpoints that are no http(s) URL or carry credentials, a query or a fragment", async (t) => {
  for (const endpoint of ["mirror.local:5000", "ftp://mirror.local", "https://user:pw@mirror.local", "https://m.local/?x=1", "https://m.local/#top"]) {
    const errors = errorsOf({ mirrors: [{ registry: "docker.io", endpoints: [endpoint] }] });
    t.match(errors, [/^machine\.registries\.mirrors\[0\]\.endpoints\[0\]: expected an http:\/\/ or https:\/\/ URL .*without credentials \(they go in machine\.registries\.hosts\[\]\.auth\)/], endpoint);
  }
  t.notOk(errorsOf({ mirrors: [{ registry: "docker.io", endpoints: ["https://user:pw@mirror.local"] }] }).join("").includes("pw@"), "the credentials are not repeated");
  t.match(errorsOf({ mirrors: [{ registry: "docker.io", endpoints: [] }] }), [/endpoints: expected a list of 1 to 16 items, got an empty list/]);
});

t.test("refuses PEMs that do not parse, naming the field", async (t) => {
  const errors = errorsOf({ hosts: [{ host: "r.local", tls: { ca: "bm90IGEgcGVt", clientCert: testCa.crt, clientKey: "LS0tLS1CRUdJTg==" } }] });
  t.match(errors, [/^machine\.registries\.hosts\[0\]\.tls\.ca: expected a base64-encoded PEM certificate/, /^machine\.registries\.hosts\[0\]\.tls\.clientKey: expected a base64-encoded PEM private key .*got "\*{6}"$/]);
});

t.test("wants a client certificate and its key together, and the key to be the certificate's", async (t) => {
  t.same(errorsOf({ hosts: [{ host: "r.local", tls: { clientCert: testCa.crt } }] }), [
    "machine.registries.hosts[0].tls.clientKey: required when clientCert is set; a client certificate needs its private key",
  ]);
  t.same(errorsOf({ hosts: [{ host: "r.local", tls: { clientKey: testCa.key } }] }), [
    "machine.registries.hosts[0].tls.clientCert: required when clientKey is set; a client certificate needs its private key",
  ]);
  t.same(errorsOf({ hosts: [{ host: "r.local", tls: { clientCert: testCa.crt, clientKey: strangerKey } }] }), [
    "machine.registries.hosts[0].tls.clientKey: does not belong to clientCert; expected the client certificate's private key",
  ]);
});

t.test("refuses a CA that insecureSkipVerify would leave unused", async (t) => {
  t.same(errorsOf({ hosts: [{ host: "r.local", tls: { ca: testCa.crt, insecureSkipVerify: true } }] }), [
    "machine.registries.hosts[0].tls.insecureSkipVerify: true would leave ca unused (nothing is verified); remove one of them",
  ]);
  t.same(errorsOf({ hosts: [{ host: "r.local", tls: { ca: testCa.crt, insecureSkipVerify: false } }] }), []);
});

t.test("wants a username with its password, and one kind of login", async (t) => {
  t.same(errorsOf({ hosts: [{ host: "r.local", auth: { username: "u" } }] }), [
    "machine.registries.hosts[0].auth.password: required when username is set; a registry login needs both",
  ]);
  t.same(errorsOf({ hosts: [{ host: "r.local", auth: { password: "p" } }] }), [
    "machine.registries.hosts[0].auth.username: required when password is set; a registry login needs both",
  ]);
  t.same(errorsOf({ hosts: [{ host: "r.local", auth: { username: "u", password: "p", identityToken: "t" } }] }), [
    "machine.registries.hosts[0].auth.identityToken: set either username and password or identityToken, not both (containerd would use only the username)",
  ]);
  t.match(errorsOf({ hosts: [{ host: "r.local", auth: { user: "u" } }] }), [/auth\.user: unknown key; expected one of username, password, identityToken/]);
});

t.test("refuses a registry or host given twice", async (t) => {
  const errors = errorsOf({
    mirrors: [{ registry: "docker.io", endpoints: ["https://a"] }, { registry: "docker.io", endpoints: ["https://b"] }],
    hosts: [{ host: "a" }, { host: "b" }, { host: "a" }],
  });
  t.same(errors, [
    'machine.registries.mirrors[1].registry: "docker.io" is also at machine.registries.mirrors[0]; merge the two entries',
    'machine.registries.hosts[2].host: "a" is also at machine.registries.hosts[0]; merge the two entries',
  ]);
  t.same(errorsOf({ hosts: [{ host: "docker.io" }, { host: "registry-1.docker.io" }] }), [
    'machine.registries.hosts[1].host: "registry-1.docker.io" is also at machine.registries.hosts[0] (docker.io is served by registry-1.docker.io); merge the two entries',
  ], "docker.io and its server are one host");
});

t.test("hides client keys, passwords and tokens from readers and counts them as credentials", async (t) => {
  const config = configOf(worker({ registries: good }));
  const shown = redactConfig(config);
  const [mirrorHost, k8s] = shown.machine.registries?.hosts ?? [];
  t.equal(mirrorHost?.tls?.clientKey, redacted);
  t.equal(mirrorHost?.auth?.password, redacted);
  t.equal(k8s?.auth?.identityToken, redacted);
  t.equal(mirrorHost?.auth?.username, "puller", "the user name is shown");
  t.equal(mirrorHost?.tls?.ca, testCa.crt, "certificates are shown");
  t.same(shown.machine.registries?.mirrors, good.mirrors, "mirrors are shown");
  const text = JSON.stringify(shown);
  for (const s of ["s3cret", "refresh-token", testCa.key]) t.notOk(text.includes(s), "no secret is left");
  t.same(secretsSet(config), ["machine.registries.hosts[].tls.clientKey", "machine.registries.hosts[].auth.password", "machine.registries.hosts[].auth.identityToken"]);
});
