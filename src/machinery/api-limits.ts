// The size limits of the machine API's request fields, which machined
// enforces (src/machined/api/request-limits.ts) and kilnctl checks before
// sending. docs/api.md ("Limits") lists them.

/** The most bytes of a service id (ids are short names like "kubelet"). */
export const maxServiceIdBytes = 128;
/** The most bytes of a file path in a request (Read's path, List's root). */
export const maxPathBytes = 1024;
/** The most bytes of a containerd namespace. */
export const maxNamespaceBytes = 128;
/** The most bytes of a machine config (ApplyConfiguration's data): 256 KiB, far above any real config. */
export const maxConfigBytes = 256 * 1024;

/** "the machine config is 1048578 bytes; the limit is 262144 bytes": the words machined and kilnctl both use. */
export function tooLargeMessage(field: string, size: number, max: number): string {
  return `${field} is ${size} bytes; the limit is ${max} bytes`;
}

/** The most server streams (Logs, Events, Dmesg, List, Read, Upgrade) machined serves at once, over all its sockets. */
export const maxOpenStreams = 256;

/** "machined serves at most 256 streams at once …": why a stream over the limit was refused. */
export function tooManyStreamsMessage(max: number): string {
  return `machined serves at most ${max} streams at once (Logs, Events, Dmesg, List, Read, Upgrade) and all are open; close one (a follow) and retry`;
}
