// Who may call what: the one table of apid's access rules. Every RPC names
// the least privileged role that may call it; an RPC missing from the table
// is admin-only. In maintenance mode (no config yet) only two RPCs are served.
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ReflectionV1 } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { MachineService } from "../gen/kiln/machine/v1/machine_pb.js";
import { includes, type Role } from "./roles.js";

/** The gRPC path of a method: "/kiln.machine.v1.MachineService/Version". */
export function methodPath(service: { typeName: string }, method: string): string {
  return `/${service.typeName}/${method}`;
}

const machine = (method: string) => methodPath(MachineService, method);

/** Minimum role per RPC. */
export const accessRules: ReadonlyMap<string, Role> = new Map<string, Role>([
  // Read-only: what runs, its logs and events, the machine's state. GetConfiguration is redacted below admin.
  [machine("Version"), "os:reader"],
  [machine("ServiceList"), "os:reader"],
  [machine("Logs"), "os:reader"],
  [machine("Events"), "os:reader"],
  [machine("Sequences"), "os:reader"],
  [machine("GetConfiguration"), "os:reader"],
  [machine("Dmesg"), "os:reader"],
  [machine("Memory"), "os:reader"],
  [machine("Processes"), "os:reader"],
  [machine("Mounts"), "os:reader"],
  [machine("Links"), "os:reader"],
  [machine("Addresses"), "os:reader"],
  [machine("Routes"), "os:reader"],
  [machine("Hostname"), "os:reader"],
  [machine("Time"), "os:reader"],
  [machine("Containers"), "os:reader"],
  [machine("Images"), "os:reader"],
  // Operations: change what runs, not what the machine is.
  [machine("ServiceStart"), "os:operator"],
  [machine("ServiceStop"), "os:operator"],
  [machine("ServiceRestart"), "os:operator"],
  [machine("Reboot"), "os:operator"],
  [machine("Shutdown"), "os:operator"],
  // Administration: the config, the image, containerd's images, the file system, new credentials, wiping the machine.
  [machine("ApplyConfiguration"), "os:admin"],
  [machine("Reset"), "os:admin"],
  [machine("UpgradeUpload"), "os:admin"],
  [machine("Upgrade"), "os:admin"],
  [machine("Rollback"), "os:admin"],
  [machine("Bootstrap"), "os:admin"],
  [machine("Kubeconfig"), "os:admin"],
  [machine("List"), "os:admin"],
  [machine("Read"), "os:admin"],
  [machine("GenerateClientConfiguration"), "os:admin"],
  [machine("ImageImport"), "os:admin"],
  // The standard services: any authenticated client.
  [methodPath(Health, "Check"), "os:reader"],
  [methodPath(Health, "Watch"), "os:reader"],
  [methodPath(ReflectionV1, "ServerReflectionInfo"), "os:reader"],
  [methodPath(ReflectionV1alpha, "ServerReflectionInfo"), "os:reader"],
]);

/** The only RPCs served in maintenance mode. */
export const maintenanceRpcs: ReadonlySet<string> = new Set([machine("ApplyConfiguration"), machine("Version")]);

/** Whether a call is allowed, and if not, the message the caller gets. */
export type Decision = { t: "allow" } | { t: "deny"; message: string };

/** The least privileged role that may call `path` (admin for anything unlisted). */
export function requiredRole(path: string): Role {
  return accessRules.get(path) ?? "os:admin";
}

/** Decides whether `role` may call `path`. */
export function authorize(role: Role, path: string): Decision {
  const need = requiredRole(path);
  if (includes(role, need)) return { t: "allow" };
  return { t: "deny", message: `role ${role} may not call ${path} (needs ${need})` };
}

/** Decides whether `path` is served in maintenance mode. */
export function authorizeMaintenance(path: string): Decision {
  if (maintenanceRpcs.has(path)) return { t: "allow" };
  return { t: "deny", message: "maintenance mode: only ApplyConfiguration and Version are served; apply a config first" };
}
