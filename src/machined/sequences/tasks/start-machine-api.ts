// boot/api: the machine API on its sockets: root's, and a second one only
// apid's user can reach (apid forwards what it admits).
import { apidOwner, apidPaths } from "../../services/apid.js";
import { startMachineApi } from "../../api/server.js";
import type { Machine } from "../../machine.js";
import type { BootEnv } from "./boot-env.js";

export async function startMachineApiTask(b: BootEnv, machine: Machine): Promise<void> {
  const paths = b.state.ctx.paths;
  const apidSocket = { path: apidPaths(b.state.ctx).machinedSocket, owner: apidOwner(), apid: true };
  b.api = await startMachineApi(machine, [{ path: paths.apiSocket }, apidSocket]);
  b.log(`machine API on ${paths.apiSocket} and, for apid, ${apidSocket.path}`);
}
