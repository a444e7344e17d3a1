// Where machined keeps things inside the machine's root: the well-known
// paths of src/machinery/paths.ts, relocatable under a test's root.
import { join } from "node:path";
import { imagePaths, machinedPaths, mountPoints } from "../machinery/paths.js";
import type { Paths } from "./service.js";

/** The standard layout; `root` lets tests relocate everything under a temp dir. */
export function createPaths(root = "/"): Paths {
  const at = (...p: string[]) => join(root, ...p);
  return {
    bin: (name) => at(imagePaths.bin, name),
    run: (id) => at(mountPoints.run, id),
    apiSocket: at(machinedPaths.apiSocket),
    state: at(mountPoints.state),
    logDir: at(machinedPaths.logDir),
    cgroupRoot: at(mountPoints.cgroup),
    components: at(imagePaths.components),
    imageCache: at(imagePaths.imageCache),
  };
}
