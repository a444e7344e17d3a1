import t from "tap";
import { bootstrapBindings, bootstrapGroup, bootstrapTokenSecret, ensureBootstrapResources } from "../../../src/machined/kubernetes/bootstrap-resources.js";
import type { Created, KubeClient } from "../../../src/machined/kubernetes/client.js";

t.test("the token Secret splits the token into its id and secret", async (t) => {
  const s = bootstrapTokenSecret("abcdef.0123456789abcdef");
  t.same(s.metadata, { name: "bootstrap-token-abcdef", namespace: "kube-system" });
  t.equal(s.type, "bootstrap.kubernetes.io/token");
  t.match(s.stringData, {
    "token-id": "abcdef",
    "token-secret": "0123456789abcdef",
    "usage-bootstrap-authentication": "true",
    "usage-bootstrap-signing": "true",
    "auth-extra-groups": bootstrapGroup,
  });
});

t.test("a token in another shape is refused, naming the shape", async (t) => {
  for (const bad of ["abcdef", "ABCDEF.0123456789abcdef", "abcdef.0123456789abcde", "abcdef.0123456789abcdef0"]) {
    t.throws(() => bootstrapTokenSecret(bad), /\[a-z0-9\]\{6\}\.\[a-z0-9\]\{16\}/, bad);
  }
});

t.test("the bindings are kiln's, each one group to one ClusterRole", async (t) => {
  t.same(
    bootstrapBindings.map((b) => [b.metadata?.name, b.subjects[0]?.name, b.roleRef.name]),
    [
      ["kiln:node-bootstrapper", "system:bootstrappers", "system:node-bootstrapper"],
      ["kiln:node-autoapprove-bootstrap", "system:bootstrappers", "system:certificates.k8s.io:certificatesigningrequests:nodeclient"],
      ["kiln:node-autoapprove-renewal", "system:nodes", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"],
    ],
  );
});

/** A client that records creates and answers each with `answer`. */
function recording(answer: Created<unknown>["t"]) {
  const posted: string[] = [];
  const client = {
    create: async (path: string) => {
      posted.push(path);
      return answer === "created" ? { t: "created", object: {} } : { t: "exists" };
    },
  } as unknown as KubeClient;
  return { client, posted };
}

t.test("creates the Secret and the bindings in their collections; existing ones are fine", async (t) => {
  const { client, posted } = recording("exists");
  const r = await ensureBootstrapResources(client, "abcdef.0123456789abcdef");
  t.same(posted, ["/api/v1/namespaces/kube-system/secrets", ...bootstrapBindings.map(() => "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings")]);
  t.same(r[0], { path: "/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef", t: "exists" });
});

t.test("without a token only the bindings are created", async (t) => {
  const { client, posted } = recording("created");
  await ensureBootstrapResources(client, undefined);
  t.equal(posted.length, bootstrapBindings.length);
});
