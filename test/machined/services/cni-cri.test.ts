// The pod network for real: containerd (CRI on, in a network namespace of its
// own) with machined's config and conflist template. UpdateRuntimeConfig with
// a pod CIDR, as kubelet sends it, makes containerd write the conflist; a pod
// sandbox then gets an address from that CIDR behind cni0.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { ociImageArchive } from "../../../src/image/oci-image.js";
import { importArchive } from "../../../src/machined/images/import-archive.js";
import { cniConfTemplate } from "../../../src/machined/services/cni-config.js";
import { containerdConfig } from "../../../src/machined/services/containerd-config.js";
import { containerdPaths } from "../../../src/machinery/paths.js";
import { inSubnet } from "../../../src/machined/services/kubelet-config.js";
import { createNetns, ipJson, ipIn, needsNetns } from "../../net/netns.js";
import { cannotRun, stop } from "../containerd.js";
import { criClient } from "../cri.js";
import { tempDir } from "../helpers.js";

const catatonit = "/usr/bin/catatonit";
const skip = cannotRun() || (!existsSync(catatonit) && "needs catatonit (apt-get install catatonit)") || (!existsSync("/usr/lib/cni/bridge") && "needs the CNI plugins in /usr/lib/cni");
const pause = "kiln.local/pause:cni-test";

t.test("containerd writes the conflist from the template and a pod gets an address from the pod CIDR on cni0", { skip, timeout: 240_000 }, async (t) => {
  if (!needsNetns(t)) return;
  const ns = `kiln-cni-${process.pid}`;
  createNetns(t, ns);
  ipIn(ns, ["link", "set", "lo", "up"]);
  const dir = tempDir(t, "kiln-cni-");
  // host-local keeps its leases on the host, under the network's name.
  const leases = "/var/lib/cni/networks/kiln";
  if (!existsSync(leases)) t.teardown(() => rmSync(leases, { recursive: true, force: true }));
  const paths = { ...containerdPaths, root: join(dir, "root"), state: join(dir, "state"), socket: join(dir, "c.sock"), cniConf: join(dir, "net.d"), cniTemplate: join(dir, "kiln.tmpl") };
  writeFileSync(paths.cniTemplate, cniConfTemplate());
  const config = containerdConfig(paths as unknown as typeof containerdPaths, pause, undefined, paths.cniTemplate);
  // The test runs without CAP_SYS_RESOURCE: the sandbox's -998 would fail runc.
  writeFileSync(join(dir, "config.toml"), config.replace(/^(\[plugins\."io\.containerd\.grpc\.v1\.cri"\]\n)/m, "$1  restrict_oom_score_adj = true\n"));
  // nsenter (not `ip netns exec`, which remounts /sys and hides the cgroups
  // from runc) execs containerd: the process we signal is containerd itself.
  const proc = spawn("nsenter", [`--net=/run/netns/${ns}`, "containerd", "--config", join(dir, "config.toml")], { stdio: "ignore" });
  t.teardown(() => stop(proc));
  for (let i = 0; i < 200 && !existsSync(paths.socket); i++) await new Promise((r) => setTimeout(r, 50));
  t.ok(existsSync(paths.socket), "containerd is up");

  const { archive } = await ociImageArchive({ name: pause, files: [{ path: "/catatonit", source: catatonit, mode: 0o755 }], entrypoint: ["/catatonit", "-P"], epoch: 0 });
  writeFileSync(join(dir, "pause.tar"), archive);
  await importArchive(join(dir, "pause.tar"), { socket: paths.socket, namespace: "k8s.io" });

  const cri = criClient(paths.socket);
  t.teardown(() => cri.close());
  const conflist = join(paths.cniConf, "10-containerd-net.conflist");
  t.notOk(existsSync(conflist), "no conflist before kubelet reports the podCIDR");
  const before = await cri.networkReady();
  t.notOk(before.ready, `nor a ready network: ${before.reason}: ${before.message}`);
  await cri.updatePodCidr("10.244.7.0/24");
  const written = JSON.parse(readFileSync(conflist, "utf8"));
  t.match(written.plugins[0], { type: "bridge", bridge: "cni0", ipam: { ranges: [[{ subnet: "10.244.7.0/24" }]] } }, "containerd rendered the template");
  // containerd loads the conflist it wrote from an fsnotify watch, later; as
  // kubelet does, wait for the runtime to say its network is ready.
  let network = await cri.networkReady();
  for (const until = Date.now() + 60_000; !network.ready && Date.now() < until; network = await cri.networkReady()) await new Promise((r) => setTimeout(r, 100));
  t.ok(network.ready, network.ready ? "containerd's network is ready" : `containerd's network is not ready after 60 s: ${network.reason}: ${network.message}`);

  mkdirSync(join(dir, "logs"));
  const id = await cri.runPodSandbox("cni-test", join(dir, "logs"));
  try {
    const ip = await cri.podIp(id);
    t.ok(inSubnet(ip, "10.244.7.0/24") && ip !== "10.244.7.1", `the pod's address ${ip} is in the node's pod CIDR`);
    const [cni0] = ipJson(ns, ["addr", "show", "dev", "cni0"]) as { addr_info: { local: string; prefixlen: number }[] }[];
    t.match(cni0?.addr_info, [{ local: "10.244.7.1", prefixlen: 24 }], "cni0 is the pods' gateway, in containerd's namespace only");
  } finally {
    await cri.stopPodSandbox(id);
    await cri.removePodSandbox(id);
  }
});
