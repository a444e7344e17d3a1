// A tar written raw onto a device (install media: `dd if=kiln-upgrade.tar
// of=/dev/sdX`) is followed by whatever the device held before, up to its
// end: a 32 GB stick would be read whole, and its old bytes taken for tar
// headers. So the device is read only as far as the archive goes: header by
// header, each entry's data skipped by its size, up to the first all-zero
// header block, which is passed on with a second one as the end of archive.

const BLOCK = 512;

/** The bytes of `source` up to and including the end of the tar archive it starts with. */
export async function* tarExtent(source: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  let pending = Buffer.alloc(0); // a header being gathered
  let skip = 0; // data bytes (with padding) still to pass through
  for await (const chunk of source) {
    let buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    while (buf.length) {
      if (skip > 0) {
        const n = Math.min(skip, buf.length);
        yield buf.subarray(0, n);
        skip -= n;
        buf = buf.subarray(n);
        continue;
      }
      const n = Math.min(BLOCK - pending.length, buf.length);
      pending = Buffer.concat([pending, buf.subarray(0, n)]);
      buf = buf.subarray(n);
      if (pending.length < BLOCK) continue;
      const header = pending;
      pending = Buffer.alloc(0);
      if (header.every((b) => b === 0)) {
        yield Buffer.concat([header, Buffer.alloc(BLOCK)]);
        return;
      }
      yield header;
      skip = Math.ceil(entrySize(header) / BLOCK) * BLOCK;
    }
  }
  if (pending.length) yield pending;
}

/** An entry's data size from its header: octal text, or base-256 when the field's first byte has its high bit set. */
export function entrySize(header: Buffer): number {
  const field = header.subarray(124, 136);
  if (field[0]! & 0x80) {
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const text = field.toString("latin1").replace(/\0.*$/s, "").trim();
  return text ? Number.parseInt(text, 8) : 0;
}
