// `kilnctl image import FILE.tar [--namespace NS]`: sends an OCI image
// archive to the machine (ImageImport, one client stream: a header, then the
// file in 1 MiB messages as fast as the machine takes them), which imports
// it into containerd (k8s.io by default, where the kubelet looks). Progress
// on stderr (a bar on a terminal); the imported images on stdout. No
// deadline: a large archive takes as long as it takes; Ctrl-C cancels, and
// the machine removes what it received.
import { open, stat } from "node:fs/promises";
import { basename } from "node:path";
import { Command } from "commander";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ImageImportRequestSchema } from "../../gen/kiln/machine/v1/machine_pb.js";
import { ApiError, Code } from "../../grpc/errors.js";
import { maxImageArchiveBytes, maxImageChunkBytes, maxNamespaceBytes, tooLargeMessage } from "../../machinery/api-limits.js";
import { formatBytes } from "../bytes.js";
import type { CliDeps } from "../deps.js";
import { CliError, usageError } from "../errors.js";
import { addGlobalOptions } from "../global-options.js";
import { nodeOf, onlyMessage } from "../node-messages.js";
import { renderList } from "../output.js";
import { withMachine } from "../session.js";
import { createStepPrinter, type StepPrinter } from "../step-progress.js";
import type { Column } from "../table.js";

/** The JSON/YAML shape of one imported image. */
export interface ImportedImageRecord {
  node: string;
  namespace: string;
  name: string;
  digest: string;
  mediaType: string;
}

const columns: Column<ImportedImageRecord>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "NAMESPACE", value: (r) => r.namespace },
  { header: "NAME", value: (r) => r.name },
  { header: "DIGEST", value: (r) => r.digest.replace(/^sha256:(.{12}).*$/, "sha256:$1") },
];

type Request = MessageInitShape<typeof ImageImportRequestSchema>;

/** `image import`. */
export function createImageImportCommand(deps: CliDeps): Command {
  const cmd = new Command("import")
    .description(`import an OCI image archive (podman save --format oci-archive, docker save of Docker 25+) into the machine's containerd, up to ${formatBytes(maxImageArchiveBytes)} (admin only)`)
    .argument("<file>", "the archive (a .tar)")
    .option("--namespace <ns>", "containerd namespace", "k8s.io");
  return addGlobalOptions(cmd, { connect: true, timeout: false }).action(async (file: string, o: { namespace: string }, c: Command) => {
    const size = await archiveSize(file);
    if (Buffer.byteLength(o.namespace) > maxNamespaceBytes) throw usageError("--namespace", tooLargeMessage("the namespace", Buffer.byteLength(o.namespace), maxNamespaceBytes));
    await withMachine(c, deps, `importing ${file}`, async (m) => {
      if (m.nodes.length > 1) throw usageError("--nodes", `image import sends the archive to one machine at a time, got ${m.nodes.length} (${m.nodes.join(", ")}): run it once per node`);
      const steps = createStepPrinter(m.deps.io.stderr);
      const ac = new AbortController();
      const off = deps.io.onInterrupt(() => ac.abort());
      try {
        const res = onlyMessage((await m.client.imageImport(requests(file, size, o.namespace, steps), { signal: ac.signal }).catch(containerdDown(file))).messages);
        steps.end();
        if (Number(res.received) !== size) throw new CliError(`importing ${file}`, `the machine received ${res.received} of ${size} bytes`);
        const rows = res.images.map((i) => ({ node: nodeOf(res), namespace: res.namespace, name: i.name, digest: i.digest, mediaType: i.mediaType }));
        m.print(renderList(m.format, rows, columns));
      } finally {
        steps.end();
        off();
      }
    });
  });
}

/** containerd's UNAVAILABLE as a failure of the import (exit 1), not as the machine being unreachable. */
function containerdDown(file: string) {
  return (err: unknown): never => {
    if (err instanceof ApiError && err.code === Code.UNAVAILABLE && err.message.startsWith("containerd")) throw new CliError(`importing ${file}`, err.message);
    throw err;
  };
}

/** The file's size; usage errors for one that is missing, empty or over the limit. */
async function archiveSize(file: string): Promise<number> {
  const st = await stat(file).catch((err: NodeJS.ErrnoException) => {
    throw usageError(file, err.code === "ENOENT" ? "no such file" : err.message);
  });
  if (!st.isFile()) throw usageError(file, "not a regular file: give an image archive (.tar)");
  if (st.size === 0) throw usageError(file, "the file is empty: give an image archive (.tar)");
  if (st.size > maxImageArchiveBytes) throw usageError(file, `${formatBytes(st.size)}; a machine takes archives of at most ${formatBytes(maxImageArchiveBytes)} (${maxImageArchiveBytes} bytes)`);
  return st.size;
}

/** The header, then the file in chunks; the step printer follows the bytes handed to the call. */
async function* requests(file: string, size: number, namespace: string, steps: StepPrinter): AsyncIterable<Request> {
  yield { part: { case: "header", value: { namespace, totalSize: BigInt(size) } } };
  const f = await open(file, "r");
  const step = { phase: "send", message: `sending ${basename(file)}`, total: size };
  try {
    for (let done = 0; done < size; ) {
      steps.show({ ...step, done });
      const buf = Buffer.alloc(Math.min(maxImageChunkBytes, size - done));
      const { bytesRead } = await f.read(buf, 0, buf.length, done);
      if (bytesRead === 0) throw new CliError(`reading ${file}`, `the file shrank to ${done} bytes while sending (was ${size}); is it still being written?`);
      done += bytesRead;
      yield { part: { case: "data", value: buf.subarray(0, bytesRead) } } satisfies Request;
    }
    steps.show({ ...step, done: size });
    steps.show({ phase: "import", message: `importing into containerd (${namespace})`, done: 0, total: 0 });
  } finally {
    await f.close();
  }
}
