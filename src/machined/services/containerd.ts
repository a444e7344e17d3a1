// containerd: the container runtime every other workload runs on.
import { mkdirSync, rmSync } from "node:fs";
import { clusterNetwork } from "../../config/cluster-network.js";
import { dirname } from "node:path";
import { readComponents } from "../../machinery/components.js";
import { cgroupPaths, containerdPaths as p } from "../../machinery/paths.js";
import { grpcHealth } from "../health/checks.js";
import { writeFileAtomic } from "../atomic-write.js";
import type { ServiceDefinition } from "../service.js";
import { processRunner } from "../supervisor/process-runner.js";
import { cniConfTemplate } from "./cni-config.js";
import { containerdConfig } from "./containerd-config.js";
import { type HostsFile, registryHostsFiles } from "./registry-hosts.js";
import { serviceEnv } from "./service-env.js";

export const containerd: ServiceDefinition = {
  id: "containerd",
  dependsOn: [],
  prepare: async (m) => {
    for (const dir of [dirname(p.config), p.root, p.state, p.cniConf]) mkdirSync(dir, { recursive: true });
    const registries = m.config?.machine.registries;
    writeRegistryHosts(p.registryHosts, registryHostsFiles(registries, p.registryHosts));
    const template = writeCniTemplate(m.config === undefined ? "none" : clusterNetwork(m.config).cni);
    // 0600: the CRI section carries registry logins.
    writeFileAtomic(p.config, containerdConfig(p, readComponents(m.paths.components).pauseImage, registries, template), 0o600);
  },
  run: (m) =>
    processRunner([m.paths.bin("containerd"), "--config", p.config], {
      env: serviceEnv(m),
      oomScoreAdj: -999,
      cgroup: cgroupPaths.runtime,
    }, m),
  restart: "forever",
  health: { check: grpcHealth(`unix://${p.socket}`), initialDelayMs: 200, intervalMs: 5000 },
};

/** Replaces the hosts directory `dir` (0700) with `files`: a host no longer configured leaves nothing behind. */
export function writeRegistryHosts(dir: string, files: readonly HostsFile[]): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const f of files) {
    mkdirSync(dirname(f.path), { recursive: true, mode: 0o700 });
    writeFileAtomic(f.path, f.content, f.mode);
  }
}

/** With cni `kiln`, writes the pod network's conflist template and returns its path; with `none`, removes it. */
function writeCniTemplate(cni: "kiln" | "none"): string | undefined {
  if (cni === "none") {
    rmSync(p.cniTemplate, { force: true });
    return undefined;
  }
  writeFileAtomic(p.cniTemplate, cniConfTemplate(), 0o644);
  return p.cniTemplate;
}
