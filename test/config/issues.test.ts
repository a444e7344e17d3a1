import t from "tap";
import { describeValue, formatPath } from "../../src/config/issues.js";
import { parseConfig } from "../../src/config/parse.js";
import { nearest } from "../../src/config/suggest.js";

t.test("writes paths with dots, indices and quoted keys", async (t) => {
  t.equal(formatPath(["machine", "files", 2, "path"]), "machine.files[2].path");
  t.equal(formatPath(["machine", "sysctls", "net.ipv4.ip_forward"]), `machine.sysctls["net.ipv4.ip_forward"]`);
  t.equal(formatPath(["machine", "env", "HTTP_PROXY"]), "machine.env.HTTP_PROXY");
  t.equal(formatPath([]), "");
});

t.test("describes found values briefly", async (t) => {
  t.equal(describeValue("master"), `"master"`);
  t.equal(describeValue(300), "300");
  t.equal(describeValue(null), "null");
  t.equal(describeValue([]), "an empty list");
  t.equal(describeValue([1]), "a list");
  t.equal(describeValue({}), "a map");
  t.equal(describeValue("x".repeat(100)), `"${"x".repeat(57)}..."`);
});

t.test("suggests a near key and nothing for a far one", async (t) => {
  const keys = ["hostname", "network", "certSANs", "dependsOn"];
  t.equal(nearest("hostnme", keys), "hostname");
  t.equal(nearest("netwrok", keys), "network");
  t.equal(nearest("cert_sans", keys), "certSANs");
  t.equal(nearest("dependOn", keys), "dependsOn");
  t.equal(nearest("banana", keys), undefined);
});

t.test("never repeats a long key or value at length", async (t) => {
  const long = "k".repeat(300 * 1024);
  const path = formatPath(["machine", "sysctls", long]);
  t.equal(path.slice(0, 200), `machine.sysctls["${"k".repeat(57)}..."]`);
  t.equal(describeValue(long).slice(0, 200), `"${"k".repeat(57)}..."`);
});

t.test("an unknown 100 KB key makes one short error", async (t) => {
  const r = parseConfig(`apiVersion: kiln/v1alpha1\nkind: MachineConfig\nmachine:\n  type: worker\n  ${"z".repeat(100 * 1024)}: 1\n`);
  const errors = "errors" in r ? r.errors.map(String) : [];
  t.equal(errors.length, 1);
  t.ok(errors[0]!.length < 300, `${errors[0]!.length} chars`);
});
