// Words of service messages that clients read: `kilnctl health` tells a
// worker's etcd (skipped: it runs none) from a control plane's by them, and a
// control plane's etcd that waits for `kilnctl bootstrap` says so in them.

/** In the message of a control plane's etcd that waits for the cluster to be founded (or to join it). */
export const notBootstrapped = "not bootstrapped";
/** A control-plane service on a worker. */
export const onWorker = "this machine is a worker";
