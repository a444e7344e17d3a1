// Against a real containerd started for the test in a temp root, with ctr
// creating a namespace and containers in it.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import t from "tap";
import { Namespaces } from "../../../src/gen/containerd/services/namespaces/v1/namespace_pb.js";
import { ApiError, Code } from "../../../src/grpc/errors.js";
import { grpcImplementation } from "../../../src/grpc/server.js";
import { MachineError } from "../../../src/machined/errors.js";
import { listContainers } from "../../../src/machined/inspect/containers.js";
import { tempDir, type Teardown } from "../helpers.js";

/** Why containerd cannot be started here, if it cannot. */
function cannotRun(): string | false {
  if (process.getuid?.() !== 0) return "needs root to run containerd";
  for (const bin of ["containerd", "ctr"]) {
    try {
      execFileSync("which", [bin]);
    } catch {
      return `${bin} is not installed`;
    }
  }
  return false;
}

/** A containerd of our own on a temp socket, stopped at teardown. */
async function startContainerd(t: Teardown): Promise<{ socket: string; dir: string; proc: ChildProcess }> {
  const dir = tempDir(t, "kiln-ctrd-");
  const socket = join(dir, "c.sock");
  const config = `version = 2\nroot = "${dir}/root"\nstate = "${dir}/state"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "${socket}"\n`;
  writeFileSync(join(dir, "config.toml"), config);
  const proc = spawn("containerd", ["--config", join(dir, "config.toml")], { stdio: "ignore" });
  t.teardown(() => stop(proc));
  for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(socket)) throw new Error("containerd did not create its socket within 5s");
  return { socket, dir, proc };
}

/** Stops a containerd we started and waits for it to exit. */
async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once("exit", r));
  proc.kill("SIGTERM");
  await exited;
}

/** Runs ctr against our containerd. */
function ctr(socket: string, ...args: string[]): void {
  execFileSync("ctr", ["-a", socket, ...args], { stdio: "pipe" });
}

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
