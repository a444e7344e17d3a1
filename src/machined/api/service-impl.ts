// The type of the MachineService implementation, apart from its handlers so
// that the files making up the handlers can name it without a cycle.
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import type { MachineService } from "../../gen/kiln/machine/v1/machine_pb.js";
import type { ServiceImpl } from "../../grpc/server.js";

type Methods = typeof MachineService extends GenService<infer M> ? M : never;
/** Every MachineService RPC's handler. */
export type MachineServiceImpl = ServiceImpl<Methods>;
