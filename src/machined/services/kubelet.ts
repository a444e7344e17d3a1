// kubelet: joins the machine to its Kubernetes cluster. Skipped where the
// image carries no kubelet binary. Its version (some flags depend on it) is
// the one the image builder recorded in components.json: never probed here.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { hostname } from "node:os";
import { kubernetesVersion, readComponents } from "../../machinery/components.js";
import { cgroupPaths, containerdPaths, kubeletPaths as p } from "../../machinery/paths.js";
import { httpHealth } from "../health/checks.js";
import { importImageCache } from "../images/image-cache.js";
import type { ServiceDefinition } from "../service.js";
import { processRunner } from "../supervisor/process-runner.js";
import { bootstrapKubeconfig, kubeletArgs, kubeletConfigFile, nodeIp } from "./kubelet-config.js";
import { makeKubeletMounts } from "./kubelet-mounts.js";
import { networkAddressed } from "./network-addressed.js";
import { runtimeModulesLoaded } from "./runtime-modules.js";
import { serviceEnv } from "./service-env.js";

export const kubelet: ServiceDefinition = {
  id: "kubelet",
  dependsOn: ["containerd"],
  // It writes iptables rules at once (KUBE-FIREWALL), and its CNI plugins do for every pod.
  // Its node IP is chosen once per start.
  conditions: [runtimeModulesLoaded, networkAddressed()],
  skip: (m) => (existsSync(m.paths.bin("kubelet")) ? undefined : `no kubelet binary in the image (${m.paths.bin("kubelet")})`),
  prepare: async (m) => {
    const config = m.config!;
    const subnets = config.machine.kubelet?.nodeIP?.validSubnets ?? [];
    if (subnets.length > 0 && nodeIp(config) === undefined) {
      throw new Error(`machine.kubelet.nodeIP.validSubnets: no address of this machine is in ${subnets.join(", ")}; kubelet would register an address it should not (fix the subnets or the network)`);
    }
    makeKubeletMounts(config, m.sys);
    for (const dir of [dirname(p.config), dirname(p.ca), p.certDir, p.staticPods, p.rootDir]) mkdirSync(dir, { recursive: true });
    writeFileSync(p.config, kubeletConfigFile(config));
    writeFileSync(p.bootstrapKubeconfig, bootstrapKubeconfig(config), { mode: 0o600 });
    writeFileSync(p.ca, Buffer.from(config.cluster?.ca?.crt ?? "", "base64"));
    // The pause image and any --image-cache archives: pods start without a registry.
    await importImageCache(m.paths.imageCache, containerdPaths.socket);
  },
  run: (m) => {
    const components = readComponents(m.paths.components);
    const args = kubeletArgs(m.config!, hostname(), undefined, kubernetesVersion(components.kubernetes), components.pauseImage);
    return processRunner([m.paths.bin("kubelet"), ...args], {
      env: serviceEnv(m),
      oomScoreAdj: -450,
      cgroup: cgroupPaths.kubelet,
    }, m);
  },
  restart: "forever",
  health: { check: httpHealth("http://127.0.0.1:10248/healthz"), initialDelayMs: 2000, intervalMs: 5000 },
};
