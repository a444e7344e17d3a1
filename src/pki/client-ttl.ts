// How long a client certificate may live: at most one year (8760h), whoever
// issues it (GenerateClientConfiguration, kilnctl gen kilnconfig, config
// new). A lost certificate then stops working by itself within a year; until
// then machine.api.deniedCertificates revokes it. Light on purpose: the CLI
// checks its flags with it before loading the PKI.

const hourMs = 3_600_000;
/** The longest lifetime of a client certificate: 8760h (one year), also the default. */
export const maxClientTtlMs = 8_760 * hourMs;

/** Why `ttlMs` is not a client certificate's lifetime, or undefined when it is. */
export function clientTtlProblem(ttlMs: number): string | undefined {
  if (Number.isFinite(ttlMs) && ttlMs > 0 && ttlMs <= maxClientTtlMs) return undefined;
  return `a client certificate lives at most ${maxClientTtlMs / hourMs}h (one year), and more than 0; got ${hours(ttlMs)}`;
}

/** A lifetime in hours, e.g. "9000h" or "0.5h". */
function hours(ms: number): string {
  return `${Number((ms / hourMs).toFixed(3))}h`;
}
