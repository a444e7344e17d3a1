// The access table: complete, ordered, unlisted means admin, and the exact
// words a denied caller reads.
import t from "tap";
import {
  accessRules,
  authorize,
  authorizeMaintenance,
  maintenanceRpcs,
  methodPath,
  requiredRole,
} from "../../src/apid/authorization.js";
import { includes, highestRole, roles } from "../../src/apid/roles.js";
import { Health } from "../../src/gen/grpc/health/v1/health_pb.js";
import { ServerReflection } from "../../src/gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "../../src/gen/grpc/reflection/v1alpha/reflection_pb.js";
import { MachineService } from "../../src/gen/kiln/machine/v1/machine_pb.js";

const machine = (name: string) => `/kiln.machine.v1.MachineService/${name}`;

t.test("names every RPC of every served service, and nothing else", async (t) => {
  const served = [MachineService, Health, ServerReflection, ServerReflectionV1alpha].flatMap((s) => s.methods.map((m) => methodPath(s, m.name)));
  t.same([...accessRules.keys()].sort(), served.sort());
});

t.test("roles are ordered reader < operator < admin, each including the ones below", async (t) => {
  t.same(roles, ["os:reader", "os:operator", "os:admin"]);
  t.ok(includes("os:admin", "os:operator") && includes("os:operator", "os:reader") && includes("os:reader", "os:reader"));
  t.notOk(includes("os:reader", "os:operator") || includes("os:operator", "os:admin"));
  t.equal(highestRole(["os:reader", "os:admin", "os:impersonator"]), "os:admin");
  t.equal(highestRole(["os:impersonator", "kiln"]), undefined);
});

t.test("readers get the read-only calls, operators add service actions and power, the rest is admin's", async (t) => {
  const byRole = (role: string) => MachineService.methods.filter((m) => requiredRole(machine(m.name)) === role).map((m) => m.name).sort();
  t.same(byRole("os:reader"), ["Addresses", "Containers", "Dmesg", "Events", "GetConfiguration", "Hostname", "Images", "Links", "Logs", "Memory", "Mounts", "Processes", "Routes", "Sequences", "ServiceList", "Time", "Version"]);
  t.same(byRole("os:operator"), ["Reboot", "ServiceRestart", "ServiceStart", "ServiceStop", "Shutdown"]);
  t.same(byRole("os:admin"), ["ApplyConfiguration", "Bootstrap", "GenerateClientConfiguration", "ImageImport", "Kubeconfig", "List", "Read", "Reset", "Rollback", "Upgrade", "UpgradeUpload"]);
});

t.test("an RPC missing from the table is admin-only", async (t) => {
  t.equal(requiredRole(machine("SomethingNew")), "os:admin");
  t.equal(requiredRole("/other.Service/Call"), "os:admin");
  t.same(authorize("os:operator", machine("SomethingNew")), { t: "deny", message: `role os:operator may not call ${machine("SomethingNew")} (needs os:admin)` });
  t.same(authorize("os:admin", machine("SomethingNew")), { t: "allow" });
});

t.test("a denial names the role, the RPC and the role it needs", async (t) => {
  t.same(authorize("os:reader", machine("Reboot")), {
    t: "deny",
    message: "role os:reader may not call /kiln.machine.v1.MachineService/Reboot (needs os:operator)",
  });
  t.same(authorize("os:operator", machine("Reboot")), { t: "allow" });
});

t.test("maintenance mode serves ApplyConfiguration and Version only", async (t) => {
  t.same([...maintenanceRpcs].sort(), [machine("ApplyConfiguration"), machine("Version")]);
  t.same(authorizeMaintenance(machine("Version")), { t: "allow" });
  for (const path of [machine("ServiceList"), machine("GetConfiguration"), "/grpc.health.v1.Health/Check"]) {
    t.same(authorizeMaintenance(path), {
      t: "deny",
      message: "maintenance mode: only ApplyConfiguration and Version are served; apply a config first",
    });
  }
});
