// kiln's pod network: the conflist template containerd renders with the
// node's podCIDR, and what machined writes for cni kiln and none.
import t from "tap";
import { cniConfTemplate, renderCniConf } from "../../../src/machined/services/cni-config.js";

t.test("the template renders to a bridge conflist on the node's podCIDR with portmap", async (t) => {
  const conf = JSON.parse(renderCniConf(cniConfTemplate(), "10.244.3.0/24"));
  t.equal(conf.name, "kiln");
  t.same(conf.plugins.map((p: { type: string }) => p.type), ["bridge", "portmap"], "no loopback: the CRI sets up lo itself");
  t.match(conf.plugins[0], {
    bridge: "cni0",
    isGateway: true,
    ipMasq: true,
    hairpinMode: true,
    ipam: { type: "host-local", ranges: [[{ subnet: "10.244.3.0/24" }]], routes: [{ dst: "0.0.0.0/0" }] },
  });
  t.same(conf.plugins[1], { type: "portmap", capabilities: { portMappings: true }, snat: true });
});

t.test("the only template action is {{.PodCIDR}}, inside a JSON string", async (t) => {
  const actions = cniConfTemplate().match(/\{\{[^}]*\}\}/g);
  t.same(actions, ["{{.PodCIDR}}"]);
  t.doesNotThrow(() => JSON.parse(cniConfTemplate()), "valid JSON before rendering too");
});
