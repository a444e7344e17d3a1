// `cluster create --controlplanes C --workers W` in-process with a fake
// provisioner: the flags checked, each node's config generated for its role
// with its hostname and the patches, the context merged into the kilnconfig
// and made current; `cluster show NAME` and `cluster destroy NAME`.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { runCli } from "../../src/cli/program.js";
import { parseKilnconfig } from "../../src/config/kilnconfig.js";
import { parseConfig } from "../../src/config/parse.js";
import type { MachineConfig } from "../../src/config/schema.js";
import { createFakeDeps, type FakeDeps } from "./fixtures/fake-deps.js";

async function run(args: string[], deps: FakeDeps) {
  const code = await runCli(args, deps);
  return { code, out: deps.out(), err: deps.err() };
}

async function scratch(t: { teardown(fn: () => unknown): void }) {
  const dir = await mkdtemp(join(tmpdir(), "kilnctl-cluster-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return { dir, deps: createFakeDeps({ env: { KILNCONFIG: join(dir, "kilnconfig") } }) };
}

const create = ["cluster", "create", "--provisioner", "qemu", "--name", "dev"];

t.test("bad counts are usage errors naming the flag and the fix", async (t) => {
  const { deps } = await scratch(t);
  for (const [flag, value] of [["--workers", "-1"], ["--controlplanes", "0"], ["--workers", "1.5"], ["--controlplanes", "two"], ["--workers", "251"]] as const) {
    const r = await run([...create, flag, value], deps);
    t.equal(r.code, 2, `${flag} ${value}: exit 2 (usage)`);
    t.match(r.err, new RegExp(`kilnctl: ${flag}: expected a whole number from \\d to 250, got "${value.replace(".", "\\.")}" \\(e\\.g\\. ${flag} \\d\\)`), `${flag} ${value}`);
  }
  const sandbox = await run(["cluster", "create", "--name", "dev", "--workers", "1"], deps);
  t.equal(sandbox.code, 2);
  t.match(sandbox.err, /--workers: only the qemu provisioner makes multi-node clusters: add --provisioner qemu/);
  const config = await run([...create, "--workers", "1", "--config", "x.yaml"], deps);
  t.equal(config.code, 2);
  t.match(config.err, /--config: a multi-node cluster generates its own configs/);
  const patchAlone = await run([...create, "--config-patch", "{}"], deps);
  t.equal(patchAlone.code, 2);
  t.match(patchAlone.err, /--config-patch: only a cluster takes it/);
  const badDisk = await run([...create, "--workers", "1", "--disk", "lots"], deps);
  t.equal(badDisk.code, 2);
  t.match(badDisk.err, /--disk: expected a size such as 4G or 512M, got "lots"/);
  const badPatch = await run([...create, "--workers", "1", "--config-patch", "[1]"], deps);
  t.equal(badPatch.code, 2, "a malformed patch is a usage error");
  t.equal(deps.created.length, 0, "nothing was created");
});

t.test("each node gets its role's config, its hostname, the endpoint on cp-1 and the patches in order", async (t) => {
  const { dir, deps } = await scratch(t);
  const all = join(dir, "all.yaml");
  await writeFile(all, "machine:\n  sysctls:\n    vm.swappiness: '10'\n");
  const workers = join(dir, "workers.json");
  await writeFile(workers, JSON.stringify([{ op: "add", path: "/machine/sysctls/vm.overcommit_memory", value: "1" }]));
  const r = await run([...create, "--controlplanes", "2", "--workers", "1", "--config-patch", all, "--config-patch-controlplanes", '{"machine":{"sysctls":{"vm.swappiness":"20"}}}', "--config-patch-workers", `@${workers}`, "-o", "json"], deps);
  t.equal(r.code, 0, r.err);
  const configs = deps.clusterConfigs.dev!;
  t.same(Object.keys(configs), ["cp-1", "cp-2", "w-1"]);
  const parsed = Object.fromEntries(Object.entries(configs).map(([n, text]) => {
    const p = parseConfig(text);
    if ("errors" in p) throw new Error(p.errors.join("; "));
    return [n, p.config as MachineConfig];
  }));
  const cp1 = parsed["cp-1"]!;
  const cp2 = parsed["cp-2"]!;
  const w1 = parsed["w-1"]!;
  t.equal(cp1.machine.type, "controlplane");
  t.equal(cp2.machine.type, "controlplane");
  t.equal(w1.machine.type, "worker");
  t.same([cp1.machine.hostname, cp2.machine.hostname, w1.machine.hostname], ["cp-1", "cp-2", "w-1"], "hostnames");
  for (const c of [cp1, cp2, w1]) t.equal(c.cluster?.controlPlane?.endpoint, "https://10.5.7.2:6443", "the endpoint is cp-1's fixed address");
  t.same(cp2.machine.certSANs, ["10.5.7.2", "10.5.7.3"], "a control plane's SANs: the endpoint and its own address");
  t.equal(cp1.machine.sysctls?.["vm.swappiness"], "20", "the control planes' patch after the one for all");
  t.equal(w1.machine.sysctls?.["vm.swappiness"], "10", "the patch for all");
  t.equal(w1.machine.sysctls?.["vm.overcommit_memory"], "1", "the workers' JSON patch");
  t.equal(cp1.machine.sysctls?.["vm.overcommit_memory"], undefined, "not on control planes");
  t.equal(cp1.machine.ca?.crt, w1.machine.ca?.crt, "one machine CA for the cluster");
  t.equal(w1.cluster?.ca?.key, undefined, "workers do not get the Kubernetes CA's key");

  const out = JSON.parse(r.out) as { name: string; nodes: { name: string; address: string; mac: string }[] };
  t.equal(out.name, "dev");
  t.same(out.nodes.map((n) => n.address), ["10.5.7.2", "10.5.7.3", "10.5.7.4"]);

  const kc = parseKilnconfig(await readFile(join(dir, "kilnconfig"), "utf8"));
  if ("errors" in kc) throw new Error(kc.errors.join("; "));
  t.equal(kc.value.context, "dev", "the cluster's context is current");
  t.same(kc.value.contexts.dev?.endpoints, ["10.5.7.2:50000", "10.5.7.3:50000"], "endpoints: every control plane");
  t.same(kc.value.contexts.dev?.nodes, ["10.5.7.2", "10.5.7.3", "10.5.7.4"], "nodes: every node");
});

t.test("--disk SIZE gives every node its own disk of that size; without it the nodes are diskless", async (t) => {
  const { deps } = await scratch(t);
  t.equal((await run([...create, "--workers", "1", "--disk", "6G"], deps)).code, 0);
  t.equal((deps.created[0] as { diskBytes?: number }).diskBytes, 6 * 2 ** 30);
  t.equal((await run(["cluster", "create", "--provisioner", "qemu", "--name", "dev2", "--workers", "1"], deps)).code, 0);
  t.equal((deps.created[1] as { diskBytes?: number }).diskBytes, undefined);
});

t.test("the context is merged into an existing kilnconfig, keeping the others", async (t) => {
  const { dir, deps } = await scratch(t);
  await writeFile(join(dir, "kilnconfig"), "context: other\ncontexts:\n  other:\n    endpoints: [10.0.0.1]\n");
  t.equal((await run([...create, "--workers", "1"], deps)).code, 0);
  const kc = parseKilnconfig(await readFile(join(dir, "kilnconfig"), "utf8"));
  if ("errors" in kc) throw new Error(kc.errors.join("; "));
  t.same(Object.keys(kc.value.contexts).sort(), ["dev", "other"]);
  t.equal(kc.value.context, "dev");
});

t.test("a patch that makes a config invalid fails naming the node", async (t) => {
  const { deps } = await scratch(t);
  const r = await run([...create, "--workers", "1", "--config-patch-workers", '{"machine":{"type":"bogus"}}'], deps);
  t.equal(r.code, 1);
  t.match(r.err, /the machine config of w-1 \(worker\) of cluster "dev": invalid after the patches/);
});

t.test("cluster show NAME lists the nodes; cluster destroy NAME removes the cluster, then says not found", async (t) => {
  const { deps } = await scratch(t);
  await run([...create, "--workers", "1"], deps);
  const show = await run(["cluster", "show", "dev"], deps);
  t.equal(show.code, 0);
  t.match(show.out, /NAME\s+ROLE\s+ADDRESS\s+MAC\s+STATE/);
  t.match(show.out, /cp-1\s+controlplane\s+10\.5\.7\.2\s+02:6b:[0-9a-f:]+\s+running/);
  t.match(show.out, /w-1\s+worker\s+10\.5\.7\.3/);
  const yaml = await run(["cluster", "show", "--name", "dev", "-o", "yaml"], deps);
  t.match(yaml.out, /bridge: kb-[0-9a-f]{8}/);
  t.equal((await run(["cluster", "destroy", "dev"], deps)).code, 0);
  t.equal(deps.clusters.length, 0);
  const again = await run(["cluster", "destroy", "dev"], deps);
  t.equal(again.code, 3, "nothing left: not found");
  t.equal((await run(["cluster", "show", "dev"], deps)).code, 3);
});

t.test("once the machines answer, create bootstraps and merges the kubeconfig; --wait then waits for health", async (t) => {
  const { deps } = await scratch(t);
  t.equal((await run([...create, "--controlplanes", "1", "--workers", "1", "-o", "json"], deps)).code, 0);
  t.same(deps.hookCalls, ["afterMachinesUp"], "no health wait without --wait");
  deps.hookCalls.length = 0;
  t.equal((await run(["cluster", "create", "--provisioner", "qemu", "--name", "dev2", "--workers", "1", "--wait", "--wait-timeout", "90s", "-o", "json"], deps)).code, 0);
  t.same(deps.hookCalls, ["afterMachinesUp", "waitForClusterHealth 90000"]);
});
