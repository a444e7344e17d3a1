// A condition for services that write netfilter rules (kubelet, and the CNI
// plugins it runs through containerd; kube-proxy): the image has no modprobe,
// so the kernel cannot load nf_tables or an xt_ match on demand, and the
// runtime set (modules-list.ts) must be in before the first iptables call,
// and forwarding and bridge netfilter on (RUNTIME_SYSCTLS) before a pod runs.
import type { Condition } from "../service.js";
import { aborted } from "../supervisor/wait.js";

export const runtimeModulesLoaded: Condition = {
  describe: "the runtime kernel modules and sysctls",
  wait: (m, signal) => Promise.race([m.runtimeModules, aborted(signal)]),
};
