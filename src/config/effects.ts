// How every field of the machine config takes effect: applied to a running
// machine (and by what), or at the next boot. diff.ts decides needsReboot
// from this table, docs.ts prints it, and a test fails when a schema leaf is
// missing here. No field is accepted and ignored: each one is acted on.

/** How a change to one field reaches the machine. */
export type Effect =
  | { t: "live"; by: string }
  | { t: "reboot"; why: string }
  | { t: "fixed" };

/** Applied to the running machine by `by`. */
const live = (by: string): Effect => ({ t: "live", by });
/** Takes effect at the next boot, because `why`. */
const reboot = (why: string): Effect => ({ t: "reboot", why });
/** Names the document's format: only one value is accepted. */
const fixed: Effect = { t: "fixed" };

const etcFiles = "apply/etc-files.ts";
const network = live("network/network.ts (metal; the sandbox's host owns its links)");
const kubeletRestart = live("runtime.ts reconcileServices: kubelet restarts with new flags and config");
const supervisor = live("runtime.ts reconcileServices: the supervisor replaces the changed service");
const extraMounts = reboot("services/kubelet-mounts.ts mounts them before kubelet first starts; a mount is not undone while the machine runs");
const files = live("apply/files.ts: written on apply");
const install = reboot("install/triggers.ts installs at boot or on the first apply, then the disk boots");
const apidCert = reboot("apid's certificate is made from it when apid starts");
const containerdRestart = live("runtime.ts reconcileServices: containerd restarts and its prepare writes the hosts directory and config anew; containers keep running");
const kubeletPrepare = reboot("kubelet's CA and bootstrap kubeconfig are written when it is prepared at boot");

/** Every leaf of the schema (as introspect.ts leafPaths names them) and how it takes effect. */
export const effects: Readonly<Record<string, Effect>> = {
  apiVersion: fixed,
  kind: fixed,
  "machine.type": reboot("the services a machine runs (etcd and the Kubernetes control plane on a control plane) are chosen when it boots"),
  "machine.hostname": live(`apply/hostname.ts (sethostname, /etc/hostname) and ${etcFiles} (/etc/hosts)`),
  "machine.network.nameservers": live(`${etcFiles}: /etc/resolv.conf`),
  "machine.network.extraHostEntries[].ip": live(`${etcFiles}: /etc/hosts`),
  "machine.network.extraHostEntries[].aliases": live(`${etcFiles}: /etc/hosts`),
  "machine.network.interfaces[].name": network,
  "machine.network.interfaces[].dhcp": network,
  "machine.network.interfaces[].addresses": network,
  "machine.network.interfaces[].routes[].network": network,
  "machine.network.interfaces[].routes[].gateway": network,
  "machine.network.interfaces[].routes[].metric": network,
  "machine.network.interfaces[].mtu": network,
  "machine.sysctls": live("apply/sysctls.ts: /proc/sys"),
  "machine.kernel.modules[].name": reboot("modules load at boot; a loaded module is never unloaded"),
  "machine.kernel.modules[].parameters": reboot("parameters are given when a module loads, at boot"),
  "machine.files[].path": files,
  "machine.files[].content": files,
  "machine.files[].permissions": files,
  "machine.files[].op": files,
  "machine.env": live("runtime.ts reconcileServices: every running service restarts with it"),
  "machine.time.servers": live("runtime.ts applyLive: time/time-sync.ts queries the new servers at once"),
  "machine.kubelet.extraArgs": kubeletRestart,
  "machine.kubelet.nodeIP.validSubnets": kubeletRestart,
  "machine.kubelet.clusterDNS": kubeletRestart,
  "machine.kubelet.extraMounts[].source": extraMounts,
  "machine.kubelet.extraMounts[].destination": extraMounts,
  "machine.kubelet.extraMounts[].type": extraMounts,
  "machine.kubelet.extraMounts[].options": extraMounts,
  "machine.install.disk": install,
  "machine.install.wipe": install,
  "machine.install.image": install,
  "machine.ca.crt": apidCert,
  "machine.ca.key": apidCert,
  "machine.token": reboot("apid sends it to the control plane for its certificate on a machine without machine.ca's key, and a control plane's apid serves the trust port with it, when apid starts"),
  "machine.certSANs": reboot("apid's and the API server's certificates are made from it when they start"),
  "machine.api.deniedCertificates": live("services/apid.ts afterApply: written to apid's TLS directory, which apid checks on every call"),
  "machine.api.peers": live("services/apid.ts afterApply: written to apid's TLS directory, which apid checks on every fan-out"),
  "machine.services[].id": supervisor,
  "machine.services[].command": supervisor,
  "machine.services[].env": supervisor,
  "machine.services[].dependsOn": supervisor,
  "machine.services[].restart": supervisor,
  "machine.services[].health.exec": supervisor,
  "machine.services[].health.http": supervisor,
  "machine.services[].health.unixSocket": supervisor,
  "machine.services[].oomScoreAdj": supervisor,
  "machine.services[].stopGraceMs": supervisor,
  "machine.registries.mirrors[].registry": containerdRestart,
  "machine.registries.mirrors[].endpoints": containerdRestart,
  "machine.registries.hosts[].host": containerdRestart,
  "machine.registries.hosts[].tls.ca": containerdRestart,
  "machine.registries.hosts[].tls.clientCert": containerdRestart,
  "machine.registries.hosts[].tls.clientKey": containerdRestart,
  "machine.registries.hosts[].tls.insecureSkipVerify": containerdRestart,
  "machine.registries.hosts[].auth.username": containerdRestart,
  "machine.registries.hosts[].auth.password": containerdRestart,
  "machine.registries.hosts[].auth.identityToken": containerdRestart,
  "cluster.name": live("inspect/client-config.ts: read when a client config is made"),
  "cluster.controlPlane.endpoint": reboot("kubelet's bootstrap kubeconfig and the API server's certificate are written when they start at boot"),
  "cluster.ca.crt": reboot("kubelet's CA and the control plane's certificates and kubeconfigs are written from it when they start at boot"),
  "cluster.ca.key": reboot("the control plane's certificates and kubeconfigs are issued from it when its services start at boot"),
  "cluster.token": kubeletPrepare,
  "cluster.network.podSubnets": reboot("the control plane's flags and the CNI config are written when their services start at boot"),
  "cluster.network.serviceSubnets": reboot("the control plane's flags and the API server's certificate are written when their services start at boot"),
  "cluster.network.cni": reboot("the CNI config is written when kubelet starts at boot"),
  "cluster.serviceAccount.key": reboot("the API server and controller manager read it when they start at boot"),
  "cluster.frontProxy.ca.crt": reboot("the API server's front-proxy certificate is issued from it at its start"),
  "cluster.frontProxy.ca.key": reboot("the API server's front-proxy certificate is issued from it at its start"),
  "cluster.etcd.ca.crt": reboot("etcd's and the API server's etcd client certificates are issued from it when they are prepared at boot"),
  "cluster.etcd.ca.key": reboot("etcd's and the API server's etcd client certificates are issued from it when they are prepared at boot"),
};

/** The entries at or under a schema path (a changed list entry or section covers several leaves). */
export function effectsUnder(schemaPath: string): Effect[] {
  const under = (leaf: string) => leaf === schemaPath || leaf.startsWith(`${schemaPath}.`) || leaf.startsWith(`${schemaPath}[`);
  return Object.entries(effects).flatMap(([leaf, e]) => (schemaPath === "" || under(leaf) ? [e] : []));
}

/** True when a change at a schema path needs a reboot; a path the table does not know does, to be safe. */
export function needsRebootAt(schemaPath: string): boolean {
  const found = effectsUnder(schemaPath);
  return found.length === 0 || found.some((e) => e.t === "reboot");
}

/** How a field takes effect, in words, for docs and tools. */
export function describeEffect(e: Effect): string {
  switch (e.t) {
    case "live":
      return `live: ${e.by}`;
    case "reboot":
      return `after a reboot: ${e.why}`;
    case "fixed":
      return "fixed: names the document's format";
  }
}
