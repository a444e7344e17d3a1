// pod-routes: kiln's host-gw pod network across nodes (cluster.network.cni:
// kiln). A service of its own, run inside machined, rather than a step of
// kubelet's: it starts only once kubelet runs and has its client certificate
// (the credential it lists Nodes with), it is stopped and restarted with the
// services, its failures show in `kilnctl services` and its log, and with
// cni none it is skipped, saying why.
import { hostname } from "node:os";
import { clusterNetwork } from "../../config/cluster-network.js";
import { openRtnetlink } from "../../net/rtnetlink.js";
import { createKubeClient } from "../../machinery/kube-client.js";
import { kubeletConnection, kubeletCredentialReady } from "../kubernetes/kubelet-credential.js";
import { kubeNodeSource } from "../kubernetes/node-source.js";
import { runPodRouteController } from "../network/pod-route-controller.js";
import type { ServiceDefinition } from "../service.js";
import { taskRunner } from "../supervisor/task-runner.js";
import { nodeName } from "./kubelet-config.js";

export const podRoutes: ServiceDefinition = {
  id: "pod-routes",
  dependsOn: ["kubelet"],
  conditions: [kubeletCredentialReady],
  // Without a kubelet binary kubelet is skipped, and so is this (a skipped dependency).
  skip: (m) => (clusterNetwork(m.config).cni === "kiln" ? undefined : "cluster.network.cni is none: the cluster's own CNI routes pods"),
  run: (m) =>
    taskRunner(async ({ log, signal }) => {
      const client = createKubeClient(kubeletConnection(m.config!));
      const nl = openRtnetlink(m.sys);
      try {
        await runPodRouteController({ source: kubeNodeSource(client, log), nl, self: nodeName(m.config!, hostname()), log }, signal);
      } finally {
        nl.close();
        client.close();
      }
    }),
  restart: "forever",
};
