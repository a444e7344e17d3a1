// The machine's own addresses, as machined puts them in apid's certificate
// and apid recognises a call that names this machine.
import { networkInterfaces } from "node:os";

/** Every address of every local interface, without IPv6 zone suffixes. */
export function localAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((a) => a.address.replace(/%.*$/, "")));
}
