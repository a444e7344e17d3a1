// The last image built: recorded in the cache root, read back; none recorded
// (or an unreadable record) is undefined.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { lastImage, lastImageFile, recordLastImage } from "../../src/image/last-image.js";

t.test("records the last image in the cache root and reads it back", async (t) => {
  const cache = mkdtempSync(join(tmpdir(), "kiln-cache-"));
  t.teardown(() => rmSync(cache, { recursive: true, force: true }));
  const env = { KILN_CACHE: cache };
  t.equal(lastImage(env), undefined, "none yet");
  recordLastImage({ out: "/work/out", version: "0.1.0", builtAt: "2026-01-01T00:00:00.000Z" }, env);
  t.equal(lastImageFile(env), join(cache, "last-image.json"));
  t.same(lastImage(env), { out: "/work/out", version: "0.1.0", builtAt: "2026-01-01T00:00:00.000Z" });
  writeFileSync(lastImageFile(env), "{not json");
  t.equal(lastImage(env), undefined, "an unreadable record is none");
});
