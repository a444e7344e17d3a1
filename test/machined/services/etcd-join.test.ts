// A control plane joining the cluster's etcd, against real etcds (Debian's
// etcd-server) on loopback: found among candidates, a stale member with its
// peer URL removed, added as a learner, started from the add's initial
// cluster, promoted to a voting member; a bootstrap refused while another
// node's etcd answers.
import t from "tap";
import { writeFileSync } from "node:fs";
import { checkBootstrap, checkNoCluster } from "../../../src/machined/bootstrap.js";
import { etcdArgs, url, writeEtcdCerts } from "../../../src/machined/services/etcd-config.js";
import { addSelf, etcdCandidates, findEtcd, promoteSelf, readJoinMark, writeJoinMark } from "../../../src/machined/services/etcd-join.js";
import { etcdClientCert, etcdMembers, initialCluster } from "../../../src/machined/services/etcd-members.js";
import { etcdStart } from "../../../src/machined/services/etcd.js";
import { tempDir } from "../helpers.js";
import { controlPlane, etcdMissing, etcdMissingMessage, etcdSkip, pathsIn, startEtcd } from "./etcd-fixtures.js";

t.test("the initial cluster names the new member, keeps the others' names, and names a member not started yet", async (t) => {
  const members = [
    { ID: "1", name: "cp-1", peerURLs: ["https://10.5.0.2:2380"] },
    { ID: "2", peerURLs: ["https://10.5.0.3:2380"] },
    { ID: "3", peerURLs: ["https://10.5.0.4:2380"], isLearner: true },
  ];
  t.equal(initialCluster(members, members[1]!, "cp-2"), "cp-1=https://10.5.0.2:2380,cp-2=https://10.5.0.3:2380,unstarted-3=https://10.5.0.4:2380");
});

t.test("a joined node refuses a bootstrap; a join mark that is not JSON is named in the error", async (t) => {
  const p = pathsIn(tempDir(t));
  const { config } = await controlPlane();
  const bin = process.execPath;
  writeJoinMark({ joinedAt: "2026-12-05T11:52:11.000Z", memberId: "7", initialCluster: "a=https://x:2380", clientURLs: ["https://x:2379"], promoted: true }, p);
  t.throws(() => checkBootstrap(config, bin, p), { kind: "refused", message: /^this node joined the cluster's etcd already \(2026-12-05T11:52:11\.000Z\): a cluster is bootstrapped once/ });
  writeFileSync(p.joinMark, "{not json");
  t.throws(() => readJoinMark(p), { message: `reading etcd's join mark ${p.joinMark}` });
});

t.test("candidates: the endpoint's host (the Kubernetes API not answering), never this node's own address", async (t) => {
  const { config } = await controlPlane();
  config.cluster = { ...config.cluster, controlPlane: { endpoint: "https://127.0.0.1:1" } };
  t.same(await etcdCandidates(config, [], { clientPort: 2379 }), ["https://127.0.0.1:2379"]);
  t.same(await etcdCandidates(config, ["127.0.0.1"], { clientPort: 2379 }), [], "the endpoint is this node");
  config.cluster = { ...config.cluster, controlPlane: { endpoint: "https://[fd00::2]:1" } };
  t.same(await etcdCandidates(config, [], { clientPort: 2379 }), ["https://[fd00::2]:2379"]);
});

t.test("a second member joins a real cluster as a learner and is promoted to a voting member", { skip: etcdSkip, timeout: 240_000 }, async (t) => {
  if (etcdMissing) return void t.fail(etcdMissingMessage);
  const base = 20_000 + Math.floor(Math.random() * 20_000);
  const p1 = pathsIn(tempDir(t), base);
  const p2 = pathsIn(tempDir(t), base + 10);
  const { ca, config } = await controlPlane();
  const cp1 = { name: "cp-1", address: "127.0.0.1" };
  const cp2 = { name: "cp-2", address: "127.0.0.1" };
  await writeEtcdCerts(ca, cp1, p1.pki);
  await writeEtcdCerts(ca, cp2, p2.pki);
  const first = await startEtcd(t, etcdArgs(cp1, { t: "found" }, p1), p1.metricsPort);
  t.match(first.health, /"health":"true"/, `the founding member runs (stderr: ${first.stderr().slice(-300)})`);

  const nowhere = url("127.0.0.1", base + 9);
  const found = await findEtcd([nowhere, url("127.0.0.1", p1.clientPort)], ca);
  if (!("members" in found)) return void t.fail(`no cluster found: ${found.why}`);
  t.equal(found.members.endpoint, url("127.0.0.1", p1.clientPort), "the first candidate that answers");
  const missed = await findEtcd([nowhere], ca);
  t.match("why" in missed ? missed.why : "", new RegExp(`^${nowhere.replace(/[.:/]/g, "\\$&")}: `), "none answering: why, per candidate");
  t.teardown(() => found.members.close());

  // A join that stopped after its add (or a node reset since): its member is stale and goes first.
  const stale = await found.members.addLearner(url(cp2.address, p2.peerPort));
  const mark = await addSelf(found.members, cp2, p2);
  t.not(mark.memberId, stale.added.ID, "the stale member was replaced");
  t.same(readJoinMark(p2), mark, "the join is recorded before etcd starts");
  t.same(mark.initialCluster.split(",").sort(), [`cp-1=${url("127.0.0.1", p1.peerPort)}`, `cp-2=${url("127.0.0.1", p2.peerPort)}`]);
  t.same(mark.clientURLs, [url("127.0.0.1", p1.clientPort)], "promoted through the members that were there");
  const learners = (await found.members.list()).filter((m) => m.isLearner);
  t.same(learners.map((m) => m.ID), [mark.memberId], "one learner: this node");

  t.same(etcdStart(p2), { t: "join", initialCluster: mark.initialCluster });
  const second = await startEtcd(t, etcdArgs(cp2, etcdStart(p2), p2), p2.metricsPort);
  t.match(second.health, /"health":"true"/, `the joining member runs (stderr: ${second.stderr().slice(-300)})`);

  let why = "";
  for (const end = Date.now() + 120_000; Date.now() < end; await new Promise((r) => setTimeout(r, 1000))) {
    try {
      await promoteSelf(config, readJoinMark(p2)!, p2);
      why = "";
      break;
    } catch (err) {
      why = (err as Error).message;
    }
  }
  t.equal(why, "", "promoted once it caught up");
  t.ok(readJoinMark(p2)?.promoted, "the mark records the promotion");
  const after = await found.members.list();
  t.same(after.map((m) => [m.name, m.isLearner ?? false]).sort(), [["cp-1", false], ["cp-2", false]], "two voting members");
  await promoteSelf(config, { ...readJoinMark(p2)!, promoted: false }, p2);
  t.pass("promoting a voting member again counts as done");

  // Through cp-2's own client port: the joined member serves the cluster.
  const client = await etcdClientCert(ca, "test");
  const viaSecond = etcdMembers(url("127.0.0.1", p2.clientPort), ca, client);
  t.teardown(() => viaSecond.close());
  t.equal((await viaSecond.list()).length, 2);

  // A bootstrap elsewhere is refused while this cluster answers at the endpoint; with nothing there, allowed.
  await checkNoCluster(config, { clientPort: base + 9 }, []);
  config.cluster = { ...config.cluster, controlPlane: { endpoint: "https://127.0.0.1:1" } };
  await t.rejects(checkNoCluster(config, p1, []), { kind: "refused", message: /the cluster's etcd answers already at https:\/\/127\.0\.0\.1:\d+ \(members: cp-1, cp-2\): it was bootstrapped on another node/ });
});
