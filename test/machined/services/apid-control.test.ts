// What machined does about apid besides supervising it: the console line and
// event in maintenance mode, and when a config means apid must restart.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { defaultPeersLine } from "../../../src/machinery/peers.js";
import { createEventBus } from "../../../src/machined/event-bus.js";
import type { EventPayload } from "../../../src/machined/events.js";
import { createCA } from "../../../src/pki/certs.js";
import { fingerprint } from "../../../src/pki/fingerprint.js";
import { encodeBase64Pem } from "../../../src/pki/pem.js";
import { type ApidControlDeps, apidPaths, certificateInputsChanged, createApidControl } from "../../../src/machined/services/apid.js";
import { configOf, testCa, worker } from "../../config/fixtures.js";
import { testContext, waitFor } from "../helpers.js";

/**
 * A control over a supervisor that records restarts, and a machine context in a temp dir. The machine's
 * addresses, as the control sees them after its first certificate, are `addresses` (the host's change while
 * other tests run): a test adds to it what the machine gains.
 */
function harness(t: { teardown(fn: () => unknown): void }, more: Partial<ApidControlDeps> = {}) {
  const addresses: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), "kiln-apid-control-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const restarts: string[] = [];
  const logged: string[] = [];
  const events = createEventBus({ capacity: 100 });
  const supervisor = {
    restart: async (id: string) => {
      restarts.push(id);
      return `service ${id}: restarted`;
    },
  };
  const control = createApidControl({ supervisor, events, log: (l) => void logged.push(l), restartDelayMs: 1, addresses: () => addresses, ...more });
  return { control, restarts, logged, events, addresses, ctx: testContext(dir) };
}

/** Every event payload so far. */
async function payloads(h: ReturnType<typeof harness>): Promise<EventPayload[]> {
  const out: EventPayload[] = [];
  for await (const e of h.events.watch({ tail: -1, sinceId: 0, follow: false })) out.push(e.payload);
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fresh machine CA, as machine.ca holds it (base64 PEM, key included). */
async function machineCa() {
  const made = await createCA("test");
  return { crt: encodeBase64Pem(made.crt), key: encodeBase64Pem(made.key) };
}
const base = configOf(worker({ hostname: "a", ca: testCa }));
const machineToken = "abcdef.0123456789abcdef";

t.test("prepared without a config: announces maintenance mode with the fingerprint on the console and as an event", async (t) => {
  const h = harness(t);
  await h.control.definition.prepare!(h.ctx);
  const fp = fingerprint(readFileSync(join(apidPaths(h.ctx).tls, "server.crt"), "utf8"));
  const line = `maintenance mode: apid certificate fingerprint ${fp}`;
  t.same(h.logged, [line]);
  t.same(await payloads(h), [{ t: "machine", stage: "maintenance", message: line }]);
});

t.test("each start's run() passes the stamp its prepare wrote into the complete file, once", async (t) => {
  const h = harness(t);
  const def = h.control.definition;
  t.throws(() => def.run(h.ctx), /found no TLS stamp: prepare must set it before its first await/, "no run without a prepare");
  const preparing = def.prepare!(h.ctx);
  def.run(h.ctx); // the runner only: nothing starts until the supervisor calls start()
  await preparing;
  const stamp = readFileSync(join(apidPaths(h.ctx).tls, "complete"), "utf8");
  t.match(stamp, /^[0-9a-f-]{36}$/);
  t.throws(() => def.run(h.ctx), /found no TLS stamp/, "the stamp was taken by the first run()");
});

t.test("the first config after maintenance mode restarts apid, once", async (t) => {
  const h = harness(t);
  await h.control.definition.prepare!(h.ctx);
  h.control.afterApply(undefined, base);
  await waitFor("the restart", () => h.restarts.length === 1);
  h.control.afterApply(base, base);
  await sleep(20);
  t.same(h.restarts, ["apid"], "not again for an unchanged config");
  t.match(h.logged.at(-1), /restarting apid: configured; leaving maintenance mode for mTLS/);
});

t.test("a config loaded at boot, before apid ever ran, restarts nothing", async (t) => {
  const h = harness(t);
  h.control.afterApply(undefined, base);
  await sleep(20);
  t.same(h.restarts, []);
});

t.test("restarts when what the certificate is made from changes, not for other changes", async (t) => {
  t.ok(certificateInputsChanged(base, configOf(worker({ hostname: "b", ca: testCa }))), "hostname");
  t.ok(certificateInputsChanged(base, configOf(worker({ hostname: "a", ca: testCa, certSANs: ["x.example"] }))), "certSANs");
  t.ok(certificateInputsChanged(base, configOf(worker({ hostname: "a" }))), "CA");
  t.notOk(certificateInputsChanged(base, configOf(worker({ hostname: "a", ca: testCa, env: { A: "1" } }))), "env");
  const h = harness(t);
  h.control.afterApply(base, configOf(worker({ hostname: "b", ca: testCa })));
  await waitFor("the restart", () => h.restarts.length === 1);
  t.match(h.logged, [/restarting apid: its certificate's names or CA changed/]);
});

t.test("denied certificates: written with apid's TLS files, then replaced live on apply without a restart", async (t) => {
  const h = harness(t);
  const fp = "ab".repeat(32);
  const ca = await machineCa();
  h.ctx.config = configOf(worker({ hostname: "a", ca, api: { deniedCertificates: ["01:02"] } }));
  await h.control.definition.prepare!(h.ctx);
  const file = join(apidPaths(h.ctx).tls, "denied-certificates");
  t.equal(readFileSync(file, "utf8"), "serial:102\n");
  const next = configOf(worker({ hostname: "a", ca, api: { deniedCertificates: ["01:02", fp.toUpperCase()] } }));
  h.control.afterApply(h.ctx.config, next);
  t.equal(readFileSync(file, "utf8"), `serial:102\nsha256:${fp}\n`, "replaced at once");
  h.control.afterApply(next, configOf(worker({ hostname: "a", ca })));
  t.equal(readFileSync(file, "utf8"), "", "the list removed: nothing denied");
  await sleep(20);
  t.same(h.restarts, [], "apid keeps running");
});

t.test("a list changed while a start's prepare rebuilds the TLS directory: a restart after it, not a write into it", async (t) => {
  const h = harness(t);
  const ca = await machineCa();
  h.ctx.config = configOf(worker({ hostname: "a", ca }));
  await h.control.definition.prepare!(h.ctx);
  // The next start's prepare is under way (a restart for a new certificate, say) when a config changing the deny list lands.
  const preparing = h.control.definition.prepare!(h.ctx);
  const next = configOf(worker({ hostname: "a", ca, api: { deniedCertificates: ["01:02"] } }));
  h.control.afterApply(h.ctx.config, next);
  await preparing;
  t.equal(readFileSync(join(apidPaths(h.ctx).tls, "denied-certificates"), "utf8"), "", "prepare wrote the lists of the config it started with, undisturbed");
  await waitFor("the restart", () => h.restarts.length === 1);
  t.match(h.logged.at(-1), /restarting apid: its denied certificates or peers changed while its TLS directory was being written/);
  // Once prepare is done, a change is written in place again.
  h.control.afterApply(next, configOf(worker({ hostname: "a", ca, api: { deniedCertificates: ["01:03"] } })));
  t.equal(readFileSync(join(apidPaths(h.ctx).tls, "denied-certificates"), "utf8"), "serial:103\n");
});

t.test("peers: the default written with apid's TLS files, then a list replaced live on apply without a restart", async (t) => {
  const h = harness(t);
  const ca = await machineCa();
  h.ctx.config = configOf(worker({ hostname: "a", ca }));
  await h.control.definition.prepare!(h.ctx);
  const file = join(apidPaths(h.ctx).tls, "peers");
  t.equal(readFileSync(file, "utf8"), `${defaultPeersLine}\n`, "unset: this machine's networks");
  const next = configOf(worker({ hostname: "a", ca, api: { peers: ["10.5.0.0/24", "node-b:50001"] } }));
  h.control.afterApply(h.ctx.config, next);
  t.equal(readFileSync(file, "utf8"), "10.5.0.0/24\nnode-b:50001\n", "replaced at once");
  h.control.afterApply(next, configOf(worker({ hostname: "a", ca, api: { peers: [] } })));
  t.equal(readFileSync(file, "utf8"), "", "an empty list: no peers");
  await sleep(20);
  t.same(h.restarts, [], "apid keeps running");
  t.throws(() => configOf(worker({ ca, api: { peers: ["10.5.0.0/33"] } })), { message: /machine\.api\.peers\[0\]: expected an address or host name, "address:port", "\[v6\]:port", or a network such as 10\.5\.0\.0\/24/ });
});

t.test("a denied certificate entry that is neither a fingerprint nor a serial fails validation, naming the path", async (t) => {
  t.throws(() => configOf(worker({ ca: testCa, api: { deniedCertificates: ["xyz"] } })), { message: /machine\.api\.deniedCertificates\[0\]: expected a client certificate's SHA-256 fingerprint/ });
});

t.test("an address the network adds after apid's certificate was issued gets a new certificate in place, once, without a restart", async (t) => {
  const h = harness(t);
  h.ctx.config = configOf(worker({ hostname: "a", ca: await machineCa() }));
  await h.control.definition.prepare!(h.ctx);
  const dir = apidPaths(h.ctx).tls;
  const before = readFileSync(join(dir, "server.crt"), "utf8");
  const added = (address: string) => {
    h.addresses.push(address.replace(/\/\d+$/, ""));
    h.events.publish({ t: "network", kind: "address-added", link: "eth0", address, source: "dhcp", message: `${address} (dhcp)` });
  };
  added("127.0.0.1/8");
  await sleep(20);
  t.equal(readFileSync(join(dir, "server.crt"), "utf8"), before, "loopback is in the certificate already");
  added("10.5.0.3/24");
  added("10.5.0.4/24");
  await waitFor("the new certificate", () => h.logged.some((l) => l.startsWith("apid: a new server certificate")));
  await sleep(20);
  t.same(h.restarts, [], "apid keeps running");
  t.same(h.logged.filter((l) => l.startsWith("apid: a new server certificate")), ["apid: a new server certificate, served without a restart: its certificate lacks the new address 10.5.0.3"], "one certificate for a burst of addresses");
  const crt = readFileSync(join(dir, "server.crt"), "utf8");
  t.not(crt, before);
  t.ok(new X509Certificate(crt).checkPrivateKey(createPrivateKey(readFileSync(join(dir, "server.key")))), "the key beside it is its own");
  t.same(readdirSync(dir).filter((f) => f.includes(".tmp-")), [], "no temporary file left");
});

t.test("an address the kernel adds itself (no event: IPv6 autoconfiguration) is found by the poll; a link-local one is not asked for", async (t) => {
  const h = harness(t, { addressPollMs: 20 });
  h.ctx.config = configOf(worker({ hostname: "a", ca: await machineCa() }));
  await h.control.definition.prepare!(h.ctx);
  const crt = () => new X509Certificate(readFileSync(join(apidPaths(h.ctx).tls, "server.crt"), "utf8"));
  h.addresses.push("fe80::99");
  await sleep(100);
  t.same(h.logged, [], "a link-local address changes nothing");
  h.addresses.push("2001:db8::5");
  await waitFor("the new certificate", () => h.logged.length > 0);
  t.same(h.logged, ["apid: a new server certificate, served without a restart: its certificate lacks the new address 2001:db8::5"]);
  t.ok(crt().checkIP("2001:db8::5"), "the new certificate holds it");
  await sleep(100);
  t.equal(h.logged.length, 1, "covered from then on");
  t.same(h.restarts, []);
});

t.test("without machine.ca's key (a control plane's certificate) a new address restarts apid, which asks again", async (t) => {
  const h = harness(t);
  const ca = await machineCa();
  const noKey = { crt: ca.crt };
  const next = configOf(worker({ hostname: "a", ca: noKey, token: machineToken }, { cluster: { controlPlane: { endpoint: "https://10.5.0.1:6443" } } }));
  // prepare needs a certificate; issue one as the control plane would, then swap in the keyless config.
  h.ctx.config = configOf(worker({ hostname: "a", ca }));
  await h.control.definition.prepare!(h.ctx);
  h.ctx.config = next;
  h.events.publish({ t: "network", kind: "address-added", link: "eth0", address: "10.5.0.3/24", source: "dhcp", message: "10.5.0.3/24 (dhcp)" });
  await waitFor("the restart", () => h.restarts.length === 1);
  t.same(h.restarts, ["apid"]);
  t.match(h.logged, [/restarting apid: its certificate lacks the new address 10\.5\.0\.3/]);
});

t.test("in maintenance mode a new address restarts nothing: the operator pinned the self-signed certificate's fingerprint", async (t) => {
  const h = harness(t);
  await h.control.definition.prepare!(h.ctx);
  h.events.publish({ t: "network", kind: "address-added", link: "eth0", address: "10.5.0.3/24", source: "dhcp", message: "10.5.0.3/24 (dhcp)" });
  await sleep(20);
  t.same(h.restarts, []);
});
