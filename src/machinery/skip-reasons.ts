// The starts of skip messages that clients read: `kilnctl health` tells a
// control plane that waits for `kilnctl bootstrap` from a worker, which runs
// no etcd at all, by these words alone.

/** A control-plane service that waits for the cluster to be founded. */
export const notBootstrapped = "not bootstrapped";
/** A control-plane service on a worker. */
export const onWorker = "this machine is a worker";
