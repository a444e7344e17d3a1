// The host of cluster.controlPlane.endpoint (https://HOST:6443), which
// machines reach for more than the Kubernetes API: etcd, the trust port.

/** The endpoint URL's host, without the brackets of an IPv6 address. */
export function endpointHost(endpoint: string): string {
  return new URL(endpoint).hostname.replace(/^\[(.*)\]$/, "$1");
}

/** `host:port`, an IPv6 host in brackets (a gRPC target). */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
