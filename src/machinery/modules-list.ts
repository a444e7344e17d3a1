// Which kernel modules the image carries. Stage 1 loads the boot set from the
// initramfs (storage, filesystems, the NIC, fw_cfg: what finding the root and
// the config needs); machined loads the runtime set on metal (what containerd
// and kubelet need). Both sets, and their dependencies, are also in
// rootfs.sqsh under /usr/lib/modules/<release> for machine.kernel.modules.
// EXTRA_MODULES are in rootfs.sqsh too, loaded only when the config asks.
// Names built into Debian's kernel are skipped by resolveModules.

/** Loaded by stage 1, in this order (dependencies first, resolved by the builder). */
export const BOOT_MODULES = [
  // the root: a squashfs image on a loop device, /etc as an overlay
  "loop",
  "squashfs",
  "overlay",
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

/** Loaded by machined on metal before containerd: bridges, netfilter, overlay networks. */
export const RUNTIME_MODULES = [
  "br_netfilter",
  "bridge",
  "veth",
  "vxlan",
  "nf_conntrack",
  "nf_nat",
  "ip_tables",
  "iptable_filter",
  "iptable_nat",
  "iptable_mangle",
  "ip6_tables",
  "ip6table_filter",
  "ip6table_nat",
  "xt_conntrack",
  "xt_MASQUERADE",
  "xt_comment",
  "xt_mark",
  "xt_addrtype",
  "xt_nat",
  "tun",
];

/** In the image for machine.kernel.modules, loaded only on request: IPVS for kube-proxy, WireGuard, test links, block devices. */
export const EXTRA_MODULES = ["dummy", "ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "wireguard", "nbd", "rbd"];
