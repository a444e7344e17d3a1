// gRPC server reflection (grpc.reflection.v1 and v1alpha), so grpcurl and
// similar tools can list apid's services and fetch their descriptors. The
// descriptors are the ones protobuf-es embeds in src/gen.
import { create, type DescFile, type DescService, createRegistry, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServerDuplexStream, ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import {
  ServerReflection,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { MachineService } from "../gen/kiln/machine/v1/machine_pb.js";
import { Code } from "../grpc/errors.js";
import { grpcDefinition } from "../grpc/service.js";
import { admit, type Mode } from "./admission.js";
import type { DeniedCertificates } from "./denied-certificates.js";
import { methodPath } from "./authorization.js";
import { cancelSignal, fail } from "../grpc/call-io.js";

/** Every service apid serves. */
export const servedServices: DescService[] = [MachineService, Health, ServerReflection, ServerReflectionV1alpha];

type Init = Parameters<typeof create<typeof ServerReflectionResponseSchema>>[1];
type Call = ServerDuplexStream<ServerReflectionRequest, ServerReflectionResponse>;

/** Files by name: the ones defining the served services, and every file they import. */
const files = new Map(withImports(servedServices.map((s) => s.file)).map((f) => [f.proto.name, f]));
const registry = createRegistry(...files.values());

/** Both reflection services (v1 and the older v1alpha, the same messages on the wire). */
export function reflectionServices(mode: Mode, denied?: DeniedCertificates): { definition: ServiceDefinition; implementation: UntypedServiceImplementation }[] {
  const v1 = grpcDefinition(ServerReflection);
  const info = v1.serverReflectionInfo!;
  const v1alpha = { serverReflectionInfo: { ...info, path: methodPath(ServerReflectionV1alpha, "ServerReflectionInfo") } };
  return [v1, v1alpha].map((definition) => ({
    definition,
    implementation: { serverReflectionInfo: infoHandler(mode, definition.serverReflectionInfo!.path, denied) },
  }));
}

/** One answer per request, in order, until the client half-closes. */
function infoHandler(mode: Mode, path: string, denied?: DeniedCertificates) {
  return (call: Call) => {
    const signal = cancelSignal(call);
    try {
      admit(mode, call, path, denied);
    } catch (err) {
      return fail(call, signal, err);
    }
    call.on("data", (req: ServerReflectionRequest) => {
      try {
        call.write(create(ServerReflectionResponseSchema, { validHost: req.host, originalRequest: req, ...answer(req) }));
      } catch (err) {
        fail(call, signal, err);
      }
    });
    call.on("end", () => call.end());
  };
}

/** The answer to one reflection request. */
export function answer(req: ServerReflectionRequest): Init {
  const r = req.messageRequest;
  switch (r.case) {
    case "listServices":
      return { messageResponse: { case: "listServicesResponse", value: { service: servedServices.map((s) => ({ name: s.typeName })) } } };
    case "fileByFilename":
      return fileResponse(files.get(r.value), `file "${r.value}"`);
    case "fileContainingSymbol":
      return fileResponse(fileOfSymbol(r.value), `symbol "${r.value}"`);
    case "allExtensionNumbersOfType":
      if (!registry.getMessage(r.value)) return notFound(`message type "${r.value}"`);
      return { messageResponse: { case: "allExtensionNumbersResponse", value: { baseTypeName: r.value, extensionNumber: [] } } };
    case "fileContainingExtension":
      return notFound(`extension ${r.value.extensionNumber} of "${r.value.containingType}"`);
    default:
      return { messageResponse: { case: "errorResponse", value: { errorCode: Code.INVALID_ARGUMENT, errorMessage: "empty reflection request" } } };
  }
}

/** The file defining a message, enum, service, method or field, by fully qualified name. */
function fileOfSymbol(name: string): DescFile | undefined {
  const parent = name.slice(0, Math.max(0, name.lastIndexOf(".")));
  return (registry.get(name) ?? registry.get(parent))?.file;
}

/** A file and everything it imports, serialized; NOT_FOUND when there is no file. */
function fileResponse(file: DescFile | undefined, what: string): Init {
  if (!file) return notFound(what);
  const bytes = withImports([file]).map((f) => toBinary(FileDescriptorProtoSchema, f.proto));
  return { messageResponse: { case: "fileDescriptorResponse", value: { fileDescriptorProto: bytes } } };
}

/** The files and everything they import, directly or not, each once, the given ones first. */
function withImports(roots: DescFile[]): DescFile[] {
  const seen = new Map<string, DescFile>();
  const queue = [...roots];
  for (let f = queue.shift(); f; f = queue.shift()) {
    if (seen.has(f.proto.name)) continue;
    seen.set(f.proto.name, f);
    queue.push(...f.dependencies);
  }
  return [...seen.values()];
}

/** An error answer: NOT_FOUND, naming what was asked for. */
function notFound(what: string): Init {
  return { messageResponse: { case: "errorResponse", value: { errorCode: Code.NOT_FOUND, errorMessage: `${what} not found` } } };
}
