// The few CRI calls (runtime.v1) tests make against a real containerd,
// encoded by hand: UpdateRuntimeConfig with a pod CIDR, the runtime's
// NetworkReady condition, and a pod sandbox's run, status (its IP), stop and
// removal. Messages are built field by field.
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
    /**
     * Status's NetworkReady condition: StatusResponse { status { conditions { type, status, reason, message } } }.
     * containerd loads a conflist it wrote asynchronously (an fsnotify watch), so a
     * pod sandbox run right after UpdateRuntimeConfig can find no network; kubelet
     * waits for this condition, and so must a test.
     */
    networkReady: async () => {
      const status = lengthDelimited(await call("Status", new Uint8Array()), 1)[0] ?? new Uint8Array();
      for (const c of lengthDelimited(status, 1)) {
        const r = new BinaryReader(c);
        const cond = { type: "", ready: false, reason: "", message: "" };
        while (r.pos < r.len) {
          const [no, wt] = r.tag();
          if (no === 1 && wt === WireType.LengthDelimited) cond.type = r.string();
          else if (no === 2 && wt === WireType.Varint) cond.ready = r.bool();
          else if (no === 3 && wt === WireType.LengthDelimited) cond.reason = r.string();
          else if (no === 4 && wt === WireType.LengthDelimited) cond.message = r.string();
          else r.skip(wt);
        }
        if (cond.type === "NetworkReady") return cond;
      }
      return { type: "NetworkReady", ready: false, reason: "absent", message: "containerd reported no NetworkReady condition" };
    },
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

/** Every length-delimited value of field `field` at the top level of `bytes`. */
function lengthDelimited(bytes: Uint8Array, field: number): Uint8Array[] {
  const r = new BinaryReader(bytes);
  const out: Uint8Array[] = [];
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === field && wt === WireType.LengthDelimited) out.push(r.bytes());
    else r.skip(wt);
  }
  return out;
}

/** The string at a path of length-delimited field numbers ("" when absent). */
function stringField(bytes: Uint8Array, path: number[]): string {
  let cur: Uint8Array | undefined = bytes;
  for (const field of path) {
    cur = lengthDelimited(cur, field)[0];
    if (!cur) return "";
  }
  return Buffer.from(cur).toString("utf8");
}
