// What the installer installs: a kiln-upgrade.tar (`kilnctl image build`
// writes it next to kernel and initramfs), from machine.install.image (an
// http(s) URL) or else from install media, a disk whose content is that tar
// written raw (dd onto a USB stick, or a read-only drive on a VM). Either is
// streamed straight into extractBundle, which checks every file: nothing
// lands in memory but the unpacked files (in /run, a tmpfs).
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { MachineConfig } from "../../config/schema.js";
import type { BundleInfo } from "../../machinery/upgrade-bundle.js";
import { DEFAULT_ROOTS, listDisks, readHead, type Roots } from "./probe.js";
import { isBundleTar } from "./signatures.js";
import { tarExtent } from "./tar-extent.js";

/** Where the bundle comes from. */
export type InstallSource = { t: "url"; url: string } | { t: "media"; device: string };

/** Why the installer cannot go on: the message names the problem and the fix. */
export class InstallError extends Error {
  override name = "InstallError";
}

/** What the sources need: where disks are, how to fetch, how to unpack. */
export interface SourceDeps {
  roots?: Roots;
  fetch?: typeof globalThis.fetch;
  extract(tar: NodeJS.ReadableStream, dir: string): Promise<BundleInfo>;
}

/** A one-line description of a source, for events. */
export function describeSource(s: InstallSource): string {
  return s.t === "url" ? redact(s.url) : `the install media ${s.device}`;
}

/** machine.install.image, else the first disk holding a kiln-upgrade.tar; InstallError naming both ways when there is neither. */
export function findSource(config: MachineConfig, roots: Roots = DEFAULT_ROOTS): InstallSource {
  const url = config.machine.install?.image;
  if (url) return { t: "url", url };
  const device = findMedia(roots);
  if (device) return { t: "media", device };
  throw new InstallError(
    "machine.install: there is no kiln-upgrade.tar to install from: set machine.install.image to its http(s) URL, or attach install media (a disk holding kiln-upgrade.tar as it is, e.g. written with dd)",
  );
}

/** The first whole disk whose first block is a tar header naming kiln-upgrade.json. */
export function findMedia(roots: Roots = DEFAULT_ROOTS): string | undefined {
  for (const d of listDisks(roots)) {
    try {
      if (isBundleTar(readHead(d.device, 512))) return d.device;
    } catch {
      // unreadable (no medium, no node yet): not the media
    }
  }
  return undefined;
}

/** Streams the source into extractBundle, unpacking it into `dir`. */
export async function extractSource(d: SourceDeps, source: InstallSource, dir: string): Promise<BundleInfo> {
  if (source.t === "media") return d.extract(Readable.from(tarExtent(createReadStream(source.device)), { objectMode: false }), dir);
  let res: Response;
  try {
    res = await (d.fetch ?? globalThis.fetch)(source.url);
  } catch (err) {
    throw new InstallError(`fetching machine.install.image ${redact(source.url)}: ${String((err as Error).cause ?? (err as Error).message)}; check the URL and that this machine's network reaches it`);
  }
  if (!res.ok || !res.body) throw new InstallError(`fetching machine.install.image ${redact(source.url)}: HTTP ${res.status} ${res.statusText}; check the URL`);
  return d.extract(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), dir);
}

/** A URL without its credentials, for the console. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.toString();
  } catch {
    return url;
  }
}
