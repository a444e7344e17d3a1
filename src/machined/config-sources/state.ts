// Source "state": the config saved on STATE by an earlier apply or boot, or,
// when config.yaml cannot be read or no longer validates, the last known good
// copy (config.good.yaml), saying so.
import { readFile } from "node:fs/promises";
import { parseConfig } from "../../config/parse.js";
import type { ConfigStore } from "../config-store.js";
import { type ConfigSource, found, none } from "./source.js";

/** The file's text, undefined when absent, or the read error's message. */
async function readText(path: string): Promise<{ text?: string; error?: string }> {
  try {
    return { text: await readFile(path, "utf8") };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    return { error: `reading ${path}: ${(err as Error).message}` };
  }
}

/** The source, reading the store's files. */
export function stateSource(store: Pick<ConfigStore, "path" | "goodPath">): ConfigSource {
  return {
    name: "state",
    fetch: async (note) => {
      const main = await readText(store.path);
      const problem = main.error ?? (main.text !== undefined && "errors" in parseConfig(main.text) ? `${store.path} no longer validates` : undefined);
      if (main.text !== undefined && !problem) return found(main.text, store.path);
      const good = await readText(store.goodPath);
      if (good.text !== undefined && !("errors" in parseConfig(good.text))) {
        if (problem) note(`${problem}; falling back to the last known good config ${store.goodPath}`);
        return found(good.text, `${store.goodPath} (last known good)`);
      }
      if (main.error) throw new Error(main.error);
      // An invalid config.yaml without a good copy: report it as it is.
      return main.text === undefined ? none(`no config on STATE (${store.path})`) : found(main.text, store.path);
    },
  };
}
