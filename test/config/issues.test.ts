import t from "tap";
import { describeValue, formatPath } from "../../src/config/issues.js";
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
