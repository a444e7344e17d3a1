// kiln's own controllers on a control plane, run as a service of machined
// (a task, not a process): once the local API server answers they create the
// cluster's bootstrap resources (token, node bootstrapper bindings) and then
// approve the CSRs kiln vouches for (kubelet serving certificates for a
// node's own names, kube-proxy client certificates for known nodes). With
// machined's own admin kubeconfig, issued with the API server's certificates.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { connectionFromKubeconfig, type Kubeconfig } from "../../machinery/kube-client.js";
import { controlPlanePaths } from "../../machinery/paths.js";
import { runControlPlaneControllers } from "../kubernetes/controllers.js";
import type { ServiceDefinition } from "../service.js";
import { taskRunner } from "../supervisor/task-runner.js";
import { controlPlaneSkip } from "./control-plane.js";

export const clusterControllers: ServiceDefinition = {
  id: "cluster-controllers",
  dependsOn: ["kube-apiserver"],
  skip: (m) => controlPlaneSkip(m, "kube-apiserver"),
  run: (m) =>
    taskRunner(async ({ signal, log }) => {
      const kubeconfig = parse(readFileSync(controlPlanePaths.adminKubeconfig, "utf8")) as Kubeconfig;
      log("creating the cluster's bootstrap resources, then approving the CSRs kiln vouches for");
      await runControlPlaneControllers(connectionFromKubeconfig(kubeconfig), m.config!, signal, { log });
    }),
  restart: "forever",
};
