#!/usr/bin/env node
// kilnctl launcher: runs the esbuild bundle (dist/kilnctl.js, `npm run build`)
// when it exists, else the TypeScript source through tsx (development).
import { existsSync } from "node:fs";

const bundle = new URL("../dist/kilnctl.js", import.meta.url);
if (existsSync(bundle)) {
  await import(bundle.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("../src/cli/main.ts", import.meta.url).href);
}
