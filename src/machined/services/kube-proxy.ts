// kube-proxy: Services on every node, as iptables rules. Skipped where the
// image carries no kube-proxy binary. It starts once its credential is
// (kube-proxy-credential.ts) and the runtime modules are in (netfilter).
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { kubeProxyPaths as p } from "../../machinery/paths.js";
import { httpHealth } from "../health/checks.js";
import type { ServiceDefinition } from "../service.js";
import { processRunner } from "../supervisor/process-runner.js";
import { kubeProxyArgs, kubeProxyConfigFile } from "./kube-proxy-config.js";
import { nodeName } from "./kubelet-config.js";
import { runtimeModulesLoaded } from "./runtime-modules.js";
import { serviceEnv } from "./service-env.js";

export const kubeProxy: ServiceDefinition = {
  id: "kube-proxy",
  dependsOn: ["kube-proxy-credential"],
  conditions: [runtimeModulesLoaded],
  skip: (m) => (existsSync(m.paths.bin("kube-proxy")) ? undefined : `no kube-proxy binary in the image (${m.paths.bin("kube-proxy")})`),
  prepare: async (m) => {
    mkdirSync(dirname(p.config), { recursive: true });
    writeFileSync(p.config, kubeProxyConfigFile(m.config!, nodeName(m.config!, hostname())));
  },
  run: (m) => processRunner([m.paths.bin("kube-proxy"), ...kubeProxyArgs()], { env: serviceEnv(m), oomScoreAdj: -999 }, m),
  restart: "forever",
  health: { check: httpHealth("http://127.0.0.1:10256/healthz"), initialDelayMs: 1000, intervalMs: 5000 },
};
