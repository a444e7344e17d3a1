// TrustService on machined's sockets: apid forwards to it what control-plane
// apids take on their trust port (src/apid/trust.ts).
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import type { TrustService } from "../../gen/kiln/trust/v1/trust_pb.js";
import type { ServiceImpl } from "../../grpc/server.js";
import { trustPeerHeader } from "../../machinery/apid.js";
import type { Machine } from "../machine.js";

type Methods = typeof TrustService extends GenService<infer M> ? M : never;

/** The one RPC: the machine signs the request's key, or says why not; the caller's address is believed only from apid's socket. */
export function createTrustHandlers(machine: Pick<Machine, "issueMachineCertificate">, o: { apidSocket?: boolean } = {}): ServiceImpl<Methods> {
  return {
    certificate: (req, ctx) => {
      const peer = o.apidSocket ? String(ctx.metadata.get(trustPeerHeader)[0] ?? "") : "";
      return machine.issueMachineCertificate({ token: req.token, csr: req.csr, ...(peer ? { peer } : {}) });
    },
  };
}
