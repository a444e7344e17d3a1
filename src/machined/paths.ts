// Where machined keeps things inside the machine's root.
import { join } from "node:path";
import type { Paths } from "./service.js";

/** The standard layout; `root` lets tests relocate everything under a temp dir. */
export function createPaths(root = "/"): Paths {
  const at = (...p: string[]) => join(root, ...p);
  return {
    bin: (name) => at("usr/bin", name),
    run: (id) => at("run", id),
    apiSocket: at("run/machined/machined.sock"),
    state: at("system/state"),
    logDir: at("var/log"),
    cgroupRoot: at("sys/fs/cgroup"),
  };
}
