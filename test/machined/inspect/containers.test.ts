// Against a real containerd started for the test in a temp root, with ctr
// creating a namespace and containers in it.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import t from "tap";
import { Namespaces } from "../../../src/gen/containerd/services/namespaces/v1/namespace_pb.js";
import { ApiError, Code } from "../../../src/grpc/errors.js";
import { grpcImplementation } from "../../../src/grpc/server.js";
import { MachineError } from "../../../src/machined/errors.js";
import { listContainers } from "../../../src/machined/inspect/containers.js";
import { cannotRun, ctr, startContainerd, stop } from "../containerd.js";
import { tempDir } from "../helpers.js";

t.test("lists containers of every namespace, or of one, from a real containerd", { skip: cannotRun() }, async (t) => {
  const { socket, dir } = await startContainerd(t);
  mkdirSync(join(dir, "rootfs"));
  ctr(socket, "-n", "kiln-a", "containers", "create", "--rootfs", join(dir, "rootfs"), "web");
  ctr(socket, "-n", "kiln-a", "containers", "create", "--rootfs", join(dir, "rootfs"), "api");
  ctr(socket, "-n", "kiln-b", "containers", "create", "--rootfs", join(dir, "rootfs"), "db");
  const all = await listContainers(socket, "");
  t.same(all.map((c) => `${c.namespace}/${c.id}`), ["kiln-a/api", "kiln-a/web", "kiln-b/db"]);
  t.match(all[0], { runtime: "io.containerd.runc.v2", image: "" });
  t.ok(all[0]!.created && Math.abs(all[0]!.created.getTime() - Date.now()) < 60_000, "created just now");
  t.same((await listContainers(socket, "kiln-b")).map((c) => c.id), ["db"]);
  t.same(await listContainers(socket, "no-such-namespace"), []);
});

t.test("says containerd is not running when it stops answering", { skip: cannotRun() }, async (t) => {
  const { socket, proc } = await startContainerd(t);
  t.same(await listContainers(socket, ""), [], "a fresh containerd has no containers");
  await stop(proc);
  await t.rejects(listContainers(socket, ""), { kind: "unavailable", message: /^containerd is not running/ });
});

t.test("says containerd is not running when its socket is missing", async (t) => {
  await t.rejects(listContainers("/nonexistent/containerd.sock", ""), {
    kind: "unavailable",
    message: "containerd is not running (no answer on /nonexistent/containerd.sock)",
  });
});

t.test("turns any other failure of containerd's API into an error naming containerd, not a status of ours", async (t) => {
  const dir = tempDir(t, "kiln-ctrd-fake-");
  const socket = join(dir, "c.sock");
  const server = new Server();
  const { definition, implementation } = grpcImplementation(Namespaces, {
    list: async () => {
      throw new ApiError(Code.PERMISSION_DENIED, "namespaces are secret");
    },
  });
  server.addService(definition, implementation);
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  t.teardown(() => server.forceShutdown());
  const err = await listContainers(socket, "").catch((e: unknown) => e);
  t.notOk(err instanceof ApiError, "containerd's status stays at the client");
  t.notOk(err instanceof MachineError, "an internal failure, not a kind the caller can act on");
  t.match(err, { message: `containerd on ${socket}: namespaces are secret` });
});
