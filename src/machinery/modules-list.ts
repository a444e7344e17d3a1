// Which kernel modules the image carries. Stage 1 loads the root and boot sets
// from the initramfs (storage, filesystems, the NIC, fw_cfg: what finding the root and
// the config needs); machined loads the runtime set on metal (what containerd
// and kubelet need). Both sets, and their dependencies, are also in
// rootfs.sqsh under /usr/lib/modules/<release> for machine.kernel.modules.
// EXTRA_MODULES are in rootfs.sqsh too, loaded only when the config asks.
// Names built into Debian's kernel are skipped by resolveModules.

/** Loaded by stage 1 before it mounts the root (a squashfs image on a loop device, /etc as an overlay), dependencies first. */
export const ROOT_MODULES = ["loop", "squashfs", "overlay"];

/** Loaded by stage 1 once the root is mounted, beside machined's start (machined waits for them before its boot sequence). */
export const BOOT_MODULES = [
  // virtual hardware: PCI transport, disks, NICs, QEMU's firmware config
  "virtio_pci",
  "virtio_blk",
  "virtio_scsi",
  "virtio_net",
  "e1000",
  "qemu_fw_cfg",
  // config drives (vfat and ISO 9660) and data disks
  "vfat",
  "nls_cp437",
  "nls_ascii",
  "nls_utf8",
  "isofs",
  "crc32c_generic", // libcrc32c's soft dependency (ext4, xfs)
  "ext4",
  "xfs",
];

/**
 * Loaded by machined on metal at boot: bridges, overlay networks, and the
 * netfilter that the image's iptables (the nf_tables backend, see
 * rootfs/manifest.yaml) and conntrack need. iptables-nft writes addresses,
 * ports, marks and verdicts as native nf_tables expressions (in nf_tables
 * itself) and every other match and target through nft_compat with its xt_
 * module; the kernel cannot load those on demand (the image has no modprobe),
 * so each one kube-proxy, kubelet and the bridge/portmap CNI plugins use is here.
 */
export const RUNTIME_MODULES = [
  "br_netfilter",
  "bridge",
  "veth",
  "vxlan",
  "tun",
  "nf_conntrack",
  "nf_conntrack_netlink", // conntrack -L/-D (kube-proxy's stale UDP flows)
  "nf_nat",
  // iptables-nft: tables and chains, nat chains, xt_ extensions through nft_compat
  "nf_tables",
  "nft_chain_nat",
  "nft_compat",
  // matches: -p tcp/udp --dport, comments, marks, conntrack state, LOCAL
  // addresses, node port ranges, load balancing, session affinity, bridged traffic
  "xt_tcpudp",
  "xt_comment",
  "xt_mark",
  "xt_conntrack",
  "xt_addrtype",
  "xt_multiport",
  "xt_statistic",
  "xt_recent",
  "xt_physdev",
  // targets: MARK (xt_mark), DNAT/SNAT, MASQUERADE, REJECT (services without endpoints)
  "xt_nat",
  "xt_MASQUERADE",
  "ipt_REJECT",
  "ip6t_REJECT",
];

/**
 * Written by machined once the runtime set is in (net.bridge.* exist only
 * after br_netfilter), before kubelet starts: nodes route pod traffic, and
 * bridged pod traffic passes iptables, where kube-proxy's Service rules are.
 * machine.sysctls may override them (applied with the config).
 */
export const RUNTIME_SYSCTLS: Record<string, string> = {
  "net.ipv4.ip_forward": "1",
  "net.bridge.bridge-nf-call-iptables": "1",
  "net.bridge.bridge-nf-call-ip6tables": "1",
};

/**
 * In the image for machine.kernel.modules, loaded only on request: IPVS for
 * kube-proxy, WireGuard, test links, block devices, and the legacy iptables
 * tables for a workload that brings its own iptables-legacy.
 */
export const EXTRA_MODULES = [
  "dummy",
  "ip_vs",
  "ip_vs_rr",
  "ip_vs_wrr",
  "ip_vs_sh",
  "wireguard",
  "nbd",
  "rbd",
  "ip_tables",
  "iptable_filter",
  "iptable_nat",
  "iptable_mangle",
  "ip6_tables",
  "ip6table_filter",
  "ip6table_nat",
  "ip6table_mangle",
];
