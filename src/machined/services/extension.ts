// Extension services: processes a machine config asks machined to run
// (machine.services), supervised like the built-in ones.
import type { MachineConfig } from "../../config/schema.js";
import { cgroupPaths } from "../../machinery/paths.js";
import { execHealth, httpHealth, unixSocketHealth } from "../health/checks.js";
import type { HealthSpec, ServiceDefinition } from "../service.js";
import { processRunner } from "../supervisor/process-runner.js";
import { serviceEnv } from "./service-env.js";

type ExtensionSpec = NonNullable<MachineConfig["machine"]["services"]>[number];

/** A service definition for one machine.services entry. */
export function extensionService(spec: ExtensionSpec): ServiceDefinition {
  return {
    id: spec.id,
    dependsOn: spec.dependsOn ?? [],
    run: (m) =>
      processRunner(spec.command, {
        env: serviceEnv(m, spec.env ?? {}),
        oomScoreAdj: spec.oomScoreAdj ?? 0,
        cgroup: `${cgroupPaths.extensions}/${spec.id}`,
      }, m),
    restart: spec.restart ?? "forever",
    ...(spec.health ? { health: healthOf(spec.health) } : {}),
    ...(spec.stopGraceMs !== undefined ? { stopGraceMs: spec.stopGraceMs } : {}),
  };
}

/** The health check an extension service declares. */
function healthOf(h: NonNullable<ExtensionSpec["health"]>): HealthSpec {
  if (h.exec) return { check: execHealth(h.exec) };
  if (h.http) return { check: httpHealth(h.http) };
  if (h.unixSocket) return { check: unixSocketHealth(h.unixSocket) };
  throw new Error("an extension service's health names no check (the schema requires exactly one)");
}
