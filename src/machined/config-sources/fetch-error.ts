// Why a fetch failed, in words an operator can act on. Node's fetch throws
// TypeError("fetch failed") and puts the system error in `cause`.

/** e.g. "DNS: no such host config.example", "connection refused by 10.0.0.1:80". */
export function describeFetchError(err: unknown, url: URL): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string; errors?: { code?: string }[] } };
  if (e.name === "TimeoutError") return "no answer in time";
  const code = e.cause?.code ?? e.cause?.errors?.[0]?.code;
  const where = `${url.hostname}:${url.port || (url.protocol === "https:" ? 443 : 80)}`;
  switch (code) {
    case "ENOTFOUND":
      return `DNS: no such host ${url.hostname}`;
    case "EAI_AGAIN":
      return `DNS: lookup of ${url.hostname} failed for now (is the network up?)`;
    case "ECONNREFUSED":
      return `connection refused by ${where}`;
    case "ETIMEDOUT":
    case "UND_ERR_CONNECT_TIMEOUT":
      return `connecting to ${where} timed out`;
    case "ENETUNREACH":
      return `network unreachable on the way to ${where} (no route yet?)`;
    case "EHOSTUNREACH":
      return `host ${where} unreachable`;
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return `connection to ${where} reset`;
  }
  if (code && /CERT|SELF_SIGNED|UNABLE_TO|TLS|SSL/.test(code)) return `TLS: ${e.cause?.message ?? code} (${code})`;
  return e.cause?.message ?? e.message ?? String(err);
}
