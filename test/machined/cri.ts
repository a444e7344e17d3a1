// The few CRI calls (runtime.v1) tests make against a real containerd,
// encoded by hand: UpdateRuntimeConfig with a pod CIDR, and a pod sandbox's
// run, status (its IP), stop and removal. Messages are built field by field.
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Client, credentials } from "@grpc/grpc-js";

/** A CRI client on containerd's `socket`; close it when done. */
export function criClient(socket: string) {
  const client = new Client(`unix://${socket}`, credentials.createInsecure());
  const call = (method: string, body: Uint8Array): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const id = (b: Buffer) => b;
      client.makeUnaryRequest(`/runtime.v1.RuntimeService/${method}`, id, id, Buffer.from(body), (err, res) => (err ? reject(err) : resolve(res ?? Buffer.alloc(0))));
    });
  return {
    /** UpdateRuntimeConfigRequest { runtime_config { network_config { pod_cidr } } }: what kubelet sends once its Node has a podCIDR. */
    updatePodCidr: async (cidr: string) => void (await call("UpdateRuntimeConfig", new BinaryWriter().uint32(10).fork().uint32(10).fork().uint32(10).string(cidr).join().join().finish())),
    /** RunPodSandboxRequest { config { metadata { name, uid, namespace }, hostname, log_directory } } → its id. */
    runPodSandbox: async (name: string, logDir: string) => {
      const w = new BinaryWriter().uint32(10).fork();
      w.uint32(10).fork().uint32(10).string(name).uint32(18).string(`uid-${name}`).uint32(26).string("default").join();
      w.uint32(18).string(name).uint32(26).string(logDir).join();
      return stringField(await call("RunPodSandbox", w.finish()), [1]);
    },
    /** PodSandboxStatus's status.network.ip. */
    podIp: async (id: string) => stringField(await call("PodSandboxStatus", new BinaryWriter().uint32(10).string(id).finish()), [1, 5, 1]),
    stopPodSandbox: async (id: string) => void (await call("StopPodSandbox", new BinaryWriter().uint32(10).string(id).finish())),
    removePodSandbox: async (id: string) => void (await call("RemovePodSandbox", new BinaryWriter().uint32(10).string(id).finish())),
    close: () => client.close(),
  };
}

/** The string at a path of length-delimited field numbers ("" when absent). */
function stringField(bytes: Uint8Array, path: number[]): string {
  let cur: Uint8Array | undefined = bytes;
  for (const field of path) {
    const r: BinaryReader = new BinaryReader(cur);
    cur = undefined;
    while (r.pos < r.len) {
      const [no, wt] = r.tag();
      if (no === field && wt === WireType.LengthDelimited) {
        cur = r.bytes();
        break;
      }
      r.skip(wt);
    }
    if (!cur) return "";
  }
  return Buffer.from(cur).toString("utf8");
}
