// The peers apid may forward calls to, from the file machined writes
// (machine.api.peers; machinery/peers.ts): applied from the next call on.
// A missing file means no peers at all: fan-out fails closed.
import { networkInterfaces } from "node:os";
import { type LocalNetwork, type PeerList, peerList, peersOfFile } from "../machinery/peers.js";
import { watchedFile } from "./watched-file.js";

/** The machine's own networks, as os.networkInterfaces gives them. */
export function localNetworks(): LocalNetwork[] {
  return Object.values(networkInterfaces()).flatMap((addrs) => addrs ?? []);
}

/** The peers in `file`, read again whenever it changes. */
export function peersFile(file: string, local: () => LocalNetwork[] = localNetworks): PeerList {
  const current = watchedFile(file, (text) => peerList(text === undefined ? [] : peersOfFile(text), local));
  return { allows: (target) => current().allows(target), describe: () => current().describe() };
}
