// The size limits of the machine API's request fields, which machined
// enforces (src/machined/api/request-limits.ts) and kilnctl checks before
// sending, and the bounds on what apid holds for its callers (fan-out).
// docs/api.md ("Limits") lists them.

/** The most bytes of a service id (ids are short names like "kubelet"). */
export const maxServiceIdBytes = 128;
/** The most bytes of a file path in a request (Read's path, List's root). */
export const maxPathBytes = 1024;
/** The most bytes of a containerd namespace. */
export const maxNamespaceBytes = 128;
/** The most bytes of a machine config (ApplyConfiguration's data): 256 KiB, far above any real config. */
export const maxConfigBytes = 256 * 1024;

/** The largest image archive ImageImport takes (its declared total_size): 8 GiB, and no more than fits on EPHEMERAL. */
export const maxImageArchiveBytes = 8 * 1024 ** 3;
/** The most bytes of one ImageImport data message. */
export const maxImageChunkBytes = 1 << 20;

/** "the machine config is 1048578 bytes; the limit is 262144 bytes": the words machined and kilnctl both use. */
export function tooLargeMessage(field: string, size: number, max: number): string {
  return `${field} is ${size} bytes; the limit is ${max} bytes`;
}

/** The most nodes one call may name in `nodes` metadata (fan-out), counted after repeats are dropped. */
export const maxFanOutNodes = 32;
/** The most channels to other nodes' apids one apid keeps open; past it the least recently used idle one is closed. */
export const maxRemoteChannels = 64;
/** How long a channel to another node's apid stays open with no call on it. */
export const remoteChannelIdleMs = 60_000;
/** The most server streams (Logs, Events, Dmesg, Upgrade, List, Read) one client connection may have open through apid at once. */
export const maxStreamsPerConnection = 32;
/** The most server streams all callers with a role may have open through one apid at once. */
export const maxStreamsPerRole = { "os:reader": 64, "os:operator": 128, "os:admin": 256 } as const;
/**
 * What one client connection to apid's port may hold, and for how long: the
 * HTTP/2 session's memory (headers and frames not yet written, in decimal
 * megabytes as Node counts it; Node's default is 10, grpc-js lifts it to
 * unbounded), how long it stays open with no call in flight (a follow counts
 * as one, so `logs -f` is never cut), and the keepalive ping that drops a
 * peer gone silent.
 */
export const apidConnectionLimits = { maxSessionMemoryMB: 32, idleMs: 300_000, keepaliveMs: 60_000, keepaliveTimeoutMs: 20_000 };

/** The most server streams (Logs, Events, Dmesg, List, Read, Upgrade) machined serves at once, over all its sockets. */
export const maxOpenStreams = 256;

/** "machined serves at most 256 streams at once …": why a stream over the limit was refused. */
export function tooManyStreamsMessage(max: number): string {
  return `machined serves at most ${max} streams at once (Logs, Events, Dmesg, List, Read, Upgrade) and all are open; close one (a follow) and retry`;
}
