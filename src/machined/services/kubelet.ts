// kubelet: joins the machine to its Kubernetes cluster. Skipped where the
// image carries no kubelet binary. Its version (some flags depend on it) is
// the one the image builder recorded in components.json: never probed here.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { hostname } from "node:os";
import { kubernetesVersion, parseComponents } from "../../machinery/components.js";
import { cgroupPaths, kubeletPaths as p } from "../../machinery/paths.js";
import { httpHealth } from "../health/checks.js";
import type { ServiceDefinition } from "../service.js";
import { processRunner } from "../supervisor/process-runner.js";
import { bootstrapKubeconfig, kubeletArgs, kubeletConfigFile } from "./kubelet-config.js";
import { serviceEnv } from "./service-env.js";

export const kubelet: ServiceDefinition = {
  id: "kubelet",
  dependsOn: ["containerd"],
  skip: (m) => (existsSync(m.paths.bin("kubelet")) ? undefined : `no kubelet binary in the image (${m.paths.bin("kubelet")})`),
  prepare: async (m) => {
    const config = m.config!;
    for (const dir of [dirname(p.config), dirname(p.ca), p.certDir, p.staticPods, p.rootDir]) mkdirSync(dir, { recursive: true });
    writeFileSync(p.config, kubeletConfigFile(config));
    writeFileSync(p.bootstrapKubeconfig, bootstrapKubeconfig(config), { mode: 0o600 });
    writeFileSync(p.ca, Buffer.from(config.cluster?.ca?.crt ?? "", "base64"));
  },
  run: (m) =>
    processRunner([m.paths.bin("kubelet"), ...kubeletArgs(m.config!, hostname(), undefined, kubeletVersion(m.paths.components))], {
      env: serviceEnv(m),
      oomScoreAdj: -450,
      cgroup: cgroupPaths.kubelet,
    }, m),
  restart: "forever",
  health: { check: httpHealth("http://127.0.0.1:10248/healthz"), initialDelayMs: 2000, intervalMs: 5000 },
};

/** The image's Kubernetes version, as the builder recorded it (undefined for an image without one). */
function kubeletVersion(componentsFile: string) {
  try {
    return kubernetesVersion(parseComponents(readFileSync(componentsFile, "utf8")).kubernetes);
  } catch {
    return undefined;
  }
}
