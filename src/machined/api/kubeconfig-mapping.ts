// An issued admin kubeconfig as the Kubeconfig message carries it.
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { AdminKubeconfig } from "../kubeconfig.js";

/** The kubeconfig as bytes, its names, server and expiry. */
export function toKubeconfig(k: AdminKubeconfig) {
  const { kubeconfig, expires, ...names } = k;
  return { kubeconfig: new TextEncoder().encode(kubeconfig), expires: timestampFromDate(expires), ...names };
}
