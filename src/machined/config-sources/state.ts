// Source "state": the config saved on STATE by an earlier apply or boot.
import { readFile } from "node:fs/promises";
import type { ConfigStore } from "../config-store.js";
import { type ConfigSource, found, none } from "./source.js";

/** The source, reading the store's file. */
export function stateSource(store: Pick<ConfigStore, "path">): ConfigSource {
  return {
    name: "state",
    fetch: async () => {
      const yaml = await readFile(store.path, "utf8").catch((err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") return undefined;
        throw new Error(`reading ${store.path}`, { cause: err });
      });
      return yaml === undefined ? none(`no config on STATE (${store.path})`) : found(yaml, store.path);
    },
  };
}
