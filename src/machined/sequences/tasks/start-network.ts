// boot/network: on metal, machined configures its own links (DHCP in the
// background); the sandbox's host owns them.
import { startNetwork } from "../../network/network.js";
import type { BootEnv } from "./boot-env.js";

export function startNetworkTask(b: BootEnv): void {
  if (b.platform !== "metal") return;
  const network = startNetwork({ sys: b.sys, events: b.events, log: b.log, applyEnv: b.state.applyEnv, identity: b.state.identity });
  b.state.network = network;
  b.state.waitOnline = network.waitOnline;
}
