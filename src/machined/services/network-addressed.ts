// A condition for services that put the node's address into what they write
// once per start (etcd's member URLs and certificate, the kubelet's node IP):
// on a boot whose config comes from disk nothing waits for the network, and a
// DHCP lease can come seconds after these services could start. They wait
// for an address that is neither loopback nor link-local.
import type { Condition } from "../service.js";
import { localAddresses } from "../apid-tls.js";
import { sleep } from "../supervisor/wait.js";

/** Whether `address` is routable beyond this machine's link: not loopback, not link-local. */
export function isNetworkAddress(address: string): boolean {
  return address !== "::1" && !address.startsWith("127.") && !address.toLowerCase().startsWith("fe80:");
}

/** Whether one of `addresses` is a network address. */
export function hasNetworkAddress(addresses: string[]): boolean {
  return addresses.some(isNetworkAddress);
}

/** Waits (polling every `everyMs`) until the machine has a network address. */
export function networkAddressed(addresses: () => string[] = localAddresses, everyMs = 250): Condition {
  return {
    describe: "a network address (not loopback or link-local)",
    wait: async (_m, signal) => {
      while (!hasNetworkAddress(addresses())) {
        if (signal.aborted) throw signal.reason;
        await sleep(everyMs, signal);
      }
    },
  };
}
