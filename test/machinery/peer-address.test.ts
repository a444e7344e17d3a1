// The address of a gRPC server call's peer, as grpc-js writes it.
import t from "tap";
import { peerAddress } from "../../src/machinery/apid.js";

t.test("the address of every form of peer grpc-js gives a server call", async (t) => {
  const cases: [string, string][] = [
    ["10.5.0.3:54321", "10.5.0.3"],
    ["::ffff:10.5.0.3:54321", "10.5.0.3"],
    ["[::ffff:10.5.0.3]:54321", "10.5.0.3"],
    ["fd00::5:54321", "fd00::5"],
    ["[FD00::5]:54321", "fd00::5"],
    ["::1:54321", "::1"],
    ["127.0.0.1:1", "127.0.0.1"],
  ];
  t.same(
    cases.map(([peer]) => [peer, peerAddress(peer)]),
    cases,
  );
});
