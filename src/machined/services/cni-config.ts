// kiln's pod network (cluster.network.cni: kiln) as a CNI conflist template
// for containerd's CRI `conf_template`. kubelet tells containerd the Node's
// spec.podCIDR (CRI UpdateRuntimeConfig); while no CNI config is loadable,
// containerd renders this Go template with {{.PodCIDR}} into
// conf_dir/10-containerd-net.conflist (containerd 1.6,
// pkg/cri/server/update_runtime_config.go). Nothing in machined watches the
// Node for its own CIDR.
//
// No loopback plugin here: on Linux the CRI plugin loads its own
// "cni-loopback" network ahead of conf_dir's (go-cni WithLoNetwork, run from
// bin_dir) and sets up every sandbox's lo with it. In this chain a loopback
// plugin would act on eth0, not lo.

/** The name of the CNI network, and of the bridge every pod's veth joins. */
export const cniNetworkName = "kiln";
export const cniBridge = "cni0";

/**
 * The conflist template: a bridge (the pods' gateway, hairpin for a pod that
 * reaches itself through a Service), host-local addresses from the node's
 * podCIDR with a default route, masquerade for traffic leaving it, and portmap
 * (with SNAT) for hostPort. ipMasq covers pod-to-pod traffic to other nodes
 * too (it leaves the node's /24): see docs/architecture.md for the fix.
 */
export function cniConfTemplate(): string {
  const conflist = {
    cniVersion: "1.0.0",
    name: cniNetworkName,
    plugins: [
      {
        type: "bridge",
        bridge: cniBridge,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: "{{.PodCIDR}}" }]],
          routes: [{ dst: "0.0.0.0/0" }],
        },
      },
      { type: "portmap", capabilities: { portMappings: true }, snat: true },
    ],
  };
  return `${JSON.stringify(conflist, null, 2)}\n`;
}

/** The template rendered as containerd would (tests: the text/template action kiln uses is only {{.PodCIDR}}). */
export function renderCniConf(template: string, podCidr: string): string {
  return template.replaceAll("{{.PodCIDR}}", podCidr);
}
