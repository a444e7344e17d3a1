// containerd: the container runtime every other workload runs on.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { grpcHealth } from "../machined/health/checks.js";
import type { ServiceDefinition } from "../machined/service.js";
import { processRunner } from "../machined/supervisor/process-runner.js";
import { containerdConfig, containerdPaths as p } from "./containerd-config.js";
import { serviceEnv } from "./service-env.js";

export const containerd: ServiceDefinition = {
  id: "containerd",
  dependsOn: [],
  prepare: async () => {
    for (const dir of [dirname(p.config), p.root, p.state, p.cniConf]) mkdirSync(dir, { recursive: true });
    writeFileSync(p.config, containerdConfig());
  },
  run: (m) =>
    processRunner([m.paths.bin("containerd"), "--config", p.config], {
      env: serviceEnv(m),
      oomScoreAdj: -999,
      cgroup: "/system/runtime",
    }, m),
  restart: "forever",
  health: { check: grpcHealth(`unix://${p.socket}`), initialDelayMs: 200, intervalMs: 5000 },
};
