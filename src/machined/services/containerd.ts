// containerd: the container runtime every other workload runs on.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { readComponents } from "../../machinery/components.js";
import { cgroupPaths, containerdPaths as p } from "../../machinery/paths.js";
import { grpcHealth } from "../health/checks.js";
import type { ServiceDefinition } from "../service.js";
import { processRunner } from "../supervisor/process-runner.js";
import { containerdConfig } from "./containerd-config.js";
import { serviceEnv } from "./service-env.js";

export const containerd: ServiceDefinition = {
  id: "containerd",
  dependsOn: [],
  prepare: async (m) => {
    for (const dir of [dirname(p.config), p.root, p.state, p.cniConf]) mkdirSync(dir, { recursive: true });
    writeFileSync(p.config, containerdConfig(p, readComponents(m.paths.components).pauseImage));
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
