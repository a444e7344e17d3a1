
import { durationFromMs, timestampDate } from "@bufbuild/protobuf/wkt";
import t from "tap";
import { serveMachine } from "../api/fixtures/serve.js";
import { type ApiError, Code } from "../../../src/grpc/errors.js";

/** A server for a fresh fake machine on a temp socket, and a client for it. */
async function setup(t: { teardown(fn: () => unknown): void }) {
  return serveMachine(t);
}

/** Every message of a stream, or the error that ended it. */
async function collect<T>(stream: AsyncIterable<T>): Promise<T[] | ApiError> {
  const out: T[] = [];
  try {
    for await (const m of stream) out.push(m);
  } catch (err) {
    return err as ApiError;
  }
  return out;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const MiB = 2n ** 20n;

t.test("sends the kernel log's tail as formatted lines, tagged with the node", async (t) => {
  const { client } = await setup(t);
  const msgs = (await collect(client.dmesg({ tail: 2 }))) as { metadata?: { node: string }; data: Uint8Array }[];
  t.equal(msgs.length, 1, "one batch, one message");
  t.equal(msgs[0]!.metadata?.node, "node-a");
  t.equal(text(msgs[0]!.data), "kern  :info  : [    1.500042] Command line: console=ttyS0\nkern  :notice: [    3.000042] kiln: machined started\n");
});

t.test("follows the kernel log until the client cancels, and the machine sees it", async (t) => {
  const { client, machine } = await setup(t);
  const ac = new AbortController();
  const seen: string[] = [];
  const done = (async () => {
    for await (const m of client.dmesg({ tail: 0, follow: true }, { signal: ac.signal })) {
      seen.push(text(m.data));
      ac.abort();
    }
  })().catch((err: ApiError) => t.equal(err.code, Code.CANCELLED));
  await new Promise((r) => setTimeout(r, 100));
  machine.pushKernel("usb 1-1: new device");
  await done;
  t.same(seen, ["kern  :warn  : [    9.000000] usb 1-1: new device\n"]);
  for (let i = 0; i < 100 && !machine.aborted.includes("dmesg"); i++) await new Promise((r) => setTimeout(r, 10));
  t.ok(machine.aborted.includes("dmesg"));
});

t.test("answers Memory in bytes", async (t) => {
  const { client } = await setup(t);
  const [m] = (await client.memory({})).messages;
  t.match(m, { metadata: { node: "node-a" }, total: 2048n * MiB, free: 1024n * MiB, available: 1536n * MiB, buffers: 64n * MiB, cached: 256n * MiB, shared: 8n * MiB, swapTotal: 0n });
});

t.test("answers Processes with every field of each process", async (t) => {
  const { client } = await setup(t);
  const [m] = (await client.processes({})).messages;
  t.equal(m?.processes.length, 3);
  t.match(m?.processes[1], { pid: 42, ppid: 1, state: "S", threads: 9, cpuTime: 12.25, virtualMemory: 1200n * MiB, residentMemory: 40n * MiB, command: "containerd", executable: "/usr/bin/containerd" });
});

t.test("answers Mounts with sizes, Hostname and Time", async (t) => {
  const { client } = await setup(t);
  t.match((await client.mounts({})).messages[0]?.mounts[1], { source: "tmpfs", target: "/var", fstype: "tmpfs", size: 1024n * MiB, available: 768n * MiB });
  t.match((await client.hostname({})).messages[0], { metadata: { node: "node-a" }, hostname: "fake" });
  const [time] = (await client.time({})).messages;
  t.same(time?.servers, ["time.cloudflare.com"]);
  t.equal(timestampDate(time!.localtime!).toISOString(), "2024-05-01T10:00:00.000Z");
});

t.test("answers Links, Addresses and Routes from the machine's rtnetlink view", async (t) => {
  const { client } = await setup(t);
  const links = (await client.links({})).messages[0];
  t.equal(links?.metadata?.node, "node-a");
  t.match(links?.links[1], { index: 2, name: "eth0", up: true, lowerUp: true, mtu: 1500, mac: "52:54:00:12:34:56" });
  t.match((await client.addresses({})).messages[0]?.addresses[1], { link: "eth0", family: 4, address: "10.0.2.15", prefixLength: 24 });
  const routes = (await client.routes({})).messages[0]?.routes;
  t.match(routes?.[0], { family: 4, destination: "default", gateway: "10.0.2.2", link: "eth0", metric: 1024, protocol: "static", scope: "universe" });
  t.match(routes?.[1], { destination: "10.0.2.0/24", gateway: "", source: "10.0.2.15", protocol: "kernel", scope: "link" });
});

t.test("streams List entries, one message each, with their errors", async (t) => {
  const { client, machine } = await setup(t);
  const msgs = (await collect(client.list({ root: "/etc", maxDepth: 2 }))) as { name: string; link: string; error: string; isDir: boolean; size: bigint; mode: number }[];
  t.same(msgs.map((m) => m.name), [".", "hosts", "mtab", "secret"]);
  t.match(msgs[1], { size: 27n, mode: 0o100644, isDir: false });
  t.match(msgs[2], { link: "/proc/self/mounts" });
  t.match(msgs[3], { error: "permission denied (EACCES)" });
  t.same(machine.calls, ["list /etc 2"]);
});

t.test("streams Read chunks and passes refusals through with their codes", async (t) => {
  const { client } = await setup(t);
  const chunks = (await collect(client.read({ path: "/etc/hosts" }))) as { data: Uint8Array }[];
  t.equal(chunks.map((c) => text(c.data)).join(""), "127.0.0.1 localhost\n::1 localhost\n");
  t.match(await collect(client.read({ path: "/system/state/config.yaml" })), { code: Code.PERMISSION_DENIED, message: /STATE directory/ });
  t.match(await collect(client.list({ root: "/nope" })), { code: Code.NOT_FOUND });
});

t.test("refuses an empty or relative path before asking the machine", async (t) => {
  const { client, machine } = await setup(t);
  t.match(await collect(client.list({ root: "" })), { code: Code.INVALID_ARGUMENT, message: "root is required" });
  t.match(await collect(client.read({ path: "etc/hosts" })), { code: Code.INVALID_ARGUMENT, message: 'path must be an absolute path, got "etc/hosts"' });
  t.same(machine.calls, []);
});

t.test("answers Containers for every namespace or one, and UNAVAILABLE when containerd is down", async (t) => {
  const { client } = await setup(t);
  const [all] = (await client.containers({})).messages;
  t.same(all?.containers.map((c) => `${c.namespace}/${c.id}`), ["k8s.io/pause-1", "system/etcd"]);
  t.equal(timestampDate(all!.containers[0]!.created!).toISOString(), "2024-05-01T10:00:00.000Z");
  t.equal(all?.containers[1]?.created, undefined);
  t.equal((await client.containers({ namespace: "system" })).messages[0]?.containers.length, 1);
  await t.rejects(client.containers({ namespace: "down" }), { code: Code.UNAVAILABLE, message: /^containerd is not running/ });
});

t.test("answers Images for every namespace or one, and UNAVAILABLE when containerd is down", async (t) => {
  const { client } = await setup(t);
  const [all] = (await client.images({})).messages;
  t.same(all?.images.map((i) => `${i.namespace}/${i.name}`), ["default/docker.io/library/busybox:1.36", "k8s.io/kiln.local/pause:0.1.7"]);
  t.equal(all?.images[1]?.size, 401n);
  t.equal(timestampDate(all!.images[1]!.created!).toISOString(), "2024-05-01T10:00:00.000Z");
  t.equal((await client.images({ namespace: "k8s.io" })).messages[0]?.images.length, 1);
  await t.rejects(client.images({ namespace: "down" }), { code: Code.UNAVAILABLE, message: /^containerd is not running/ });
  await t.rejects(client.images({ namespace: "n".repeat(200) }), { code: Code.INVALID_ARGUMENT, message: /namespace is 200 bytes; the limit is 128 bytes/ });
});

t.test("generates a client configuration for known roles and a lifetime", async (t) => {
  const { client, machine } = await setup(t);
  const [m] = (await client.generateClientConfiguration({ roles: ["os:reader", "os:reader"], crtTtl: durationFromMs(3_600_000) })).messages;
  t.same([text(m!.ca), text(m!.crt), text(m!.key), text(m!.kilnconfig)], ["CA PEM\n", "CRT PEM\n", "KEY PEM\n", "context: fake\n"]);
  t.same(machine.calls, ["generateClientConfiguration os:reader 3600000"]);
});

t.test("refuses a client configuration without roles, with an unknown role or a negative lifetime", async (t) => {
  const { client, machine } = await setup(t);
  await t.rejects(client.generateClientConfiguration({}), { code: Code.INVALID_ARGUMENT, message: /^roles: expected at least one of os:admin/ });
  await t.rejects(client.generateClientConfiguration({ roles: ["os:root"] }), { code: Code.INVALID_ARGUMENT, message: /got "os:root"$/ });
  await t.rejects(client.generateClientConfiguration({ roles: ["os:admin"], crtTtl: durationFromMs(-1000) }), { code: Code.INVALID_ARGUMENT });
  t.same(machine.calls, []);
});
