// Typed handlers (server.ts's ServiceImpl) served over the link: each
// method's path routes to a handler that decodes its request with
// protobuf-es and encodes its answers, as grpcImplementation does for grpc-js.
import { create, type DescMessage, type DescService, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { LinkCall, LinkHandler } from "./link-server.js";
import type { CallContext, MetadataReader, ServiceImpl } from "./server.js";

/** A link call as a typed handler's context: metadata read as grpc-js's Metadata reads (every value of a key). */
class LinkContext implements CallContext {
  constructor(private readonly call: LinkCall) {}
  get signal(): AbortSignal {
    return this.call.signal;
  }
  get metadata(): MetadataReader {
    const md = this.call.metadata;
    return { get: (key) => (Object.hasOwn(md, key) ? [md[key]!] : []) };
  }
  get peer(): string {
    return "apid";
  }
}

type Fn = (req: unknown, ctx: CallContext) => unknown;
type Encode = (m: DescMessage, v: unknown) => Uint8Array;
const encode: Encode = (m, v) => toBinary(m, create(m, v as MessageInitShape<DescMessage>));

/** Every method of `service`, by its path, as a link handler over `impl`. */
export function linkRoutes<S extends GenServiceMethods>(service: GenService<S>, impl: ServiceImpl<S>): Map<string, LinkHandler> {
  const routes = new Map<string, LinkHandler>();
  for (const m of (service as DescService).methods) {
    const fn = (impl as Record<string, Fn>)[m.localName]!.bind(impl);
    const path = `/${service.typeName}/${m.name}`;
    if (m.methodKind === "unary") {
      routes.set(path, { kind: "unary", run: async (req, call) => encode(m.output, await fn(fromBinary(m.input, req), new LinkContext(call))) });
    } else if (m.methodKind === "server_streaming") {
      routes.set(path, {
        kind: "server_streaming",
        run: async function* (req, call) {
          for await (const msg of fn(fromBinary(m.input, req), new LinkContext(call)) as AsyncIterable<unknown>) yield encode(m.output, msg);
        },
      });
    } else if (m.methodKind === "client_streaming") {
      routes.set(path, {
        kind: "client_streaming",
        run: async (reqs, call) => {
          const decoded = (async function* () {
            for await (const b of reqs) yield fromBinary(m.input, b);
          })();
          return encode(m.output, await fn(decoded, new LinkContext(call)));
        },
      });
    }
  }
  return routes;
}
