// kube-apiserver on control planes, from the image's binary: the cluster's
// API on :6443, backed by this node's etcd member. Skipped, saying why, on
// workers, without the binary or the config's CAs and keys, and until etcd is
// bootstrapped here (the bootstrap sequence starts it then).
import { clusterNetwork } from "../../config/cluster-network.js";
import { cgroupPaths, controlPlanePaths as p } from "../../machinery/paths.js";
import { httpsHealth } from "../health/checks.js";
import type { ServiceDefinition } from "../service.js";
import { processRunner } from "../supervisor/process-runner.js";
import { apiServerArgs } from "./control-plane-args.js";
import { controlPlaneFiles, writeApiServerPki } from "./control-plane-pki.js";
import { controlPlaneSkip, nodeApiServerSans, secretsOf } from "./control-plane.js";
import { etcdMember } from "./etcd.js";
import { serviceEnv } from "./service-env.js";

export const kubeApiServer: ServiceDefinition = {
  id: "kube-apiserver",
  dependsOn: ["etcd"],
  skip: (m) => controlPlaneSkip(m, "kube-apiserver"),
  prepare: async (m) => {
    // Issued anew at every start: the node's addresses or machine.certSANs may have changed.
    await writeApiServerPki(secretsOf(m), nodeApiServerSans(m));
  },
  run: (m) =>
    processRunner([m.paths.bin("kube-apiserver"), ...apiServerArgs(etcdMember(m).address, clusterNetwork(m.config))], {
      env: serviceEnv(m),
      // As etcd: the cluster's API is what a control plane is for. Every pod
      // scores above it (the kubelet gives Guaranteed pods -997).
      oomScoreAdj: -998,
      cgroup: cgroupPaths.apiServer,
    }, m),
  restart: "forever",
  health: {
    // /readyz answers anonymous requests; the serving certificate is verified with the cluster CA.
    check: httpsHealth(`https://127.0.0.1:${p.apiServerPort}/readyz`, controlPlaneFiles().ca),
    initialDelayMs: 2000,
    intervalMs: 5000,
    timeoutMs: 5000,
    // A first start (RBAC bootstrap roles, priority classes) may take a minute on a small machine.
    startPeriodMs: 120_000,
  },
};
