import t from "tap";
import { formatBytes, formatMode } from "../../src/cli/bytes.js";

t.test("formats byte counts in binary units", async (t) => {
  t.equal(formatBytes(0), "0 B");
  t.equal(formatBytes(1023), "1023 B");
  t.equal(formatBytes(1536), "1.5 KiB");
  t.equal(formatBytes(3 * 2 ** 30), "3.0 GiB");
});

t.test("formats modes as ls -l does, special bits included", async (t) => {
  t.equal(formatMode(0o40755), "drwxr-xr-x");
  t.equal(formatMode(0o100644), "-rw-r--r--");
  t.equal(formatMode(0o120777), "lrwxrwxrwx");
  t.equal(formatMode(0o104755), "-rwsr-xr-x");
  t.equal(formatMode(0o41777), "drwxrwxrwt");
  t.equal(formatMode(0o102644), "-rw-r-Sr--");
  t.equal(formatMode(0o20666), "crw-rw-rw-");
});
