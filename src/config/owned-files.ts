// Files kiln writes itself: machine.files may not write them (kiln would
// overwrite them, or they it), and each names the field to use instead.
import { containerdPaths, kubeletPaths } from "../machinery/paths.js";

/** A file kiln owns and what to set instead of writing it. */
interface OwnedFile {
  path: string;
  instead: string;
}

/** Every file under a writable root that machined or a built-in service writes. */
export const ownedFiles: readonly OwnedFile[] = [
  { path: "/etc/hosts", instead: "use machine.network.extraHostEntries instead" },
  { path: "/etc/resolv.conf", instead: "use machine.network.nameservers instead" },
  { path: "/etc/hostname", instead: "use machine.hostname instead" },
  { path: "/etc/machine-id", instead: "it is the machine's identity, kept on STATE or derived from the hardware" },
  { path: kubeletPaths.config, instead: "use machine.kubelet (extraArgs, clusterDNS, nodeIP) instead" },
  { path: kubeletPaths.bootstrapKubeconfig, instead: "use cluster.controlPlane.endpoint and cluster.token instead" },
  { path: kubeletPaths.kubeconfig, instead: "kubelet writes it when it joins the cluster" },
  { path: kubeletPaths.ca, instead: "use cluster.ca instead" },
  { path: containerdPaths.config, instead: "there is no field for containerd's config yet" },
];

/** Why machine.files may not write `path` (a normalised absolute path), or undefined. */
export function ownedFileProblem(path: string): string | undefined {
  const owned = ownedFiles.find((f) => f.path === path);
  return owned && `${path} is written by kiln; ${owned.instead}`;
}
