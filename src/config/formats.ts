// The value formats of the machine config (addresses, paths, names, tokens),
// each registered with the phrase an error uses for what was expected.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { z } from "zod";
import { parsePeer } from "../machinery/peers.js";
import { parseDeniedEntry } from "../pki/denied-certificates.js";
import { ownedFileProblem } from "./owned-files.js";
import { quoted } from "./quote.js";

/** What a schema expects, in words: "a CIDR such as 10.0.0.2/24 or fd00::2/64". */
export const expectations = z.registry<{ expected: string }>();

/** Records the phrase errors and docs use for what `schema` accepts. */
function expecting<T extends z.ZodType>(schema: T, expected: string): T {
  expectations.add(schema, { expected });
  return schema;
}

/** Refine params: report a failure as "expected <phrase>, got <value>" (see issues.ts). */
const asExpectation = { params: { expected: true } };

/** Services machined runs itself; extension services may not take these ids. */
export const builtinServiceIds = ["containerd", "kubelet", "apid", "machined"] as const;

/** Where files may be written; the rest of the root is read-only. */
export const writableRoots = ["/etc", "/var"] as const;

// One path segment: anything but "/", and not "." or "..".
const segment = String.raw`/(?!\.\.?(?:/|$))[^/]+`;
const absolutePathPattern = new RegExp(`^(?:${segment})+$`);
const devicePattern = new RegExp(`^/dev(?:${segment})+$`);
const writablePattern = new RegExp(`^(?:${writableRoots.join("|")})(?:${segment})+$`);
const hostnameLabel = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const hostnamePattern = new RegExp(`^(?=.{1,253}$)${hostnameLabel}(?:\\.${hostnameLabel})*$`);
// A DNS name as a server or SAN: a hostname that could not be mistaken for an IP.
const dnsNamePattern = new RegExp(`^(?![0-9.]+$)(?=.{1,253}$)${hostnameLabel}(?:\\.${hostnameLabel})*$`);

export const ipAddress = expecting(z.union([z.ipv4(), z.ipv6()]), "an IP address such as 10.0.0.1 or fd00::1");

export const cidr = expecting(z.union([z.cidrv4(), z.cidrv6()]), "a CIDR such as 10.0.0.2/24 or fd00::2/64");

/** A dotted IPv4 address as a number (10.0.0.1 → 167772161). */
export function ipv4Number(address: string): number {
  return address.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

/** True when an IPv4 CIDR's address has no bits set past its prefix (10.244.0.0/16, not 10.244.1.0/16). */
function isNetworkAddress(value: string): boolean {
  const [address = "", bits = "32"] = value.split("/");
  const n = ipv4Number(address);
  const hostBits = 32 - Number(bits);
  return hostBits === 0 || n % 2 ** hostBits === 0;
}

/** An IPv4 network: a CIDR whose address is the network's own. */
export const network4 = expecting(
  z.cidrv4().refine(isNetworkAddress, { message: "has host bits set past its prefix" }),
  "an IPv4 network such as 10.244.0.0/16 (the address's bits past the prefix all zero)",
);

export const hostname = expecting(
  z.string().regex(hostnamePattern),
  "a lowercase RFC 1123 hostname such as node-1 or node-1.example.com (labels of 1-63 characters a-z, 0-9 and '-', 253 in all)",
);

export const hostOrIp = expecting(
  z.union([z.ipv4(), z.ipv6(), z.string().regex(dnsNamePattern)]),
  "a hostname or IP address such as pool.ntp.org or 10.0.0.1",
);

export const absolutePath = expecting(
  z.string().regex(absolutePathPattern),
  `an absolute, normalised path such as /var/lib/data (no "..", ".", "//" or trailing "/")`,
);

export const devicePath = expecting(
  z.string().regex(devicePattern),
  "a device path such as /dev/sda or /dev/disk/by-id/ata-disk0",
);

/** Why a file may not be written at `path` (outside /etc and /var, or kiln's own), or undefined when it may. */
export function filePathProblem(path: string): string | undefined {
  const shown = quoted(path);
  const roots = writableRoots.join(" or ");
  if (!path.startsWith("/")) return `expected an absolute path under ${roots}, got ${shown}`;
  if (!absolutePathPattern.test(path)) {
    return `expected a normalised path (no "..", ".", "//" or trailing "/"), got ${shown}`;
  }
  if (!writablePattern.test(path)) return `${shown} is on the read-only root; files may be written only under ${roots}`;
  return ownedFileProblem(path);
}

/** A file's path: absolute, normalised, under a writable root; one message saying which rule failed. */
export const writablePath = expecting(
  z.string().superRefine((path, ctx) => {
    const problem = filePathProblem(path);
    if (problem) ctx.addIssue({ code: "custom", message: problem, input: path });
  }),
  "an absolute path under /etc or /var such as /etc/motd",
).meta({ pattern: writablePattern.source });

export const token = expecting(
  z.string().regex(/^[a-z0-9]{6}\.[a-z0-9]{16}$/),
  "a token such as abcdef.0123456789abcdef (6 and 16 characters a-z, 0-9, joined by '.')",
);

export const certificateRef = expecting(
  z.string().refine((s) => "value" in parseDeniedEntry(s), asExpectation),
  "a client certificate's SHA-256 fingerprint (64 hex digits) or serial number (1 to 40 hex digits), colons allowed",
);

export const peerEntry = expecting(
  z.string().refine((s) => !("error" in parsePeer(s)), asExpectation),
  'an address or host name, "address:port", "[v6]:port", or a network such as 10.5.0.0/24',
);

/** The PEM text inside base64 `text`, or undefined when it is not base64 of a PEM block. */
export function decodePem(text: string): string | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  const pem = Buffer.from(text, "base64").toString("utf8");
  return pem.trimStart().startsWith("-----BEGIN ") ? pem : undefined;
}

/** True when `text` is base64 of a PEM X.509 certificate that parses. */
function isCertificate(text: string): boolean {
  const pem = decodePem(text);
  return pem !== undefined && succeeds(() => new X509Certificate(pem));
}

/** True when `text` is base64 of a PEM private key that parses. */
function isPrivateKey(text: string): boolean {
  const pem = decodePem(text);
  return pem !== undefined && /PRIVATE KEY-----/.test(pem) && succeeds(() => createPrivateKey(pem));
}

/** True when base64 PEM `key` is the private half of base64 PEM certificate `crt`. */
export function keyFits(crt: string, key: string): boolean {
  const [crtPem, keyPem] = [decodePem(crt), decodePem(key)];
  if (crtPem === undefined || keyPem === undefined) return false;
  return succeeds(() => {
    if (!new X509Certificate(crtPem).checkPrivateKey(createPrivateKey(keyPem))) throw new Error("mismatch");
  });
}

/** True when `fn` returns without throwing. */
function succeeds(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

export const certificatePem = expecting(
  z.string().refine(isCertificate, asExpectation),
  "a base64-encoded PEM certificate (-----BEGIN CERTIFICATE-----)",
).meta({ contentEncoding: "base64" });

export const privateKeyPem = expecting(
  z.string().refine(isPrivateKey, asExpectation),
  "a base64-encoded PEM private key (-----BEGIN PRIVATE KEY-----)",
).meta({ contentEncoding: "base64" });

export const sysctlName = expecting(
  z.string().regex(/^[a-z0-9_][a-z0-9_.\-/]*$/),
  "a sysctl name such as net.ipv4.ip_forward (a-z, 0-9, '_', '-', '.' and '/')",
);

/** A string value where YAML would otherwise read a number or a boolean. */
export const quotedString = expecting(z.string(), `a string (quote numbers and booleans, as in "1")`);

export const envName = expecting(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
  "an environment variable name such as HTTP_PROXY ([A-Za-z_][A-Za-z0-9_]*)",
);

export const interfaceName = expecting(
  z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/),
  "an interface name such as eth0 (1-15 characters a-z, A-Z, 0-9, '_', '.' and '-')",
);

export const moduleName = expecting(
  z.string().regex(/^[A-Za-z0-9_-]{1,55}$/),
  "a kernel module name such as br_netfilter",
);

export const kubeletFlag = expecting(
  z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  `a kubelet flag name without "--", such as max-pods`,
);

export const serviceId = expecting(
  z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
  "a service id such as web (1-63 characters a-z, 0-9 and '-')",
);

/** An extension service's id: a service id that is not one of machined's own. */
export const extensionServiceId = serviceId.superRefine((id, ctx) => {
  if (!(builtinServiceIds as readonly string[]).includes(id)) return;
  const message = `"${id}" is a built-in service (${builtinServiceIds.join(", ")}); choose another id`;
  ctx.addIssue({ code: "custom", message, input: id });
});

export const httpsUrl = expecting(
  z.url({ protocol: /^https$/ }),
  "an https:// URL such as https://10.0.0.10:6443",
).meta({ pattern: "^https://" });

export const httpUrl = expecting(
  z.url({ protocol: /^https?$/ }),
  "an http:// or https:// URL such as http://127.0.0.1:8080/healthz",
).meta({ pattern: "^https?://" });

// A registry host as image references name it: a DNS name or an IPv4 address (labels of digits), then an optional port.
const registryHostPattern = new RegExp(
  `^${hostnameLabel}(?:\\.${hostnameLabel})*(?::(?:[1-9]\\d{0,3}|[1-5]\\d{4}|6[0-4]\\d{3}|65[0-4]\\d{2}|655[0-2]\\d|6553[0-5]))?$`,
);

export const registryHost = expecting(
  z.string().max(253).regex(registryHostPattern),
  "a registry host as image names write it, such as docker.io, registry.local:5000 or 10.0.0.5:5000 (lowercase, an optional port)",
);

/** The server a registry name is reached at: docker.io's is registry-1.docker.io, any other is itself. */
export function registryServer(registry: string): string {
  return registry === "docker.io" ? "registry-1.docker.io" : registry;
}

/** True when `text` is an http(s) URL with a host and no credentials, query or fragment. */
function isEndpointUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  const plain = !url.username && !url.password && !url.search && !url.hash && !text.includes("#") && !text.includes("?");
  return (url.protocol === "https:" || url.protocol === "http:") && url.hostname !== "" && plain;
}

export const registryEndpoint = expecting(
  z.string().refine(isEndpointUrl, asExpectation),
  "an http:// or https:// URL such as https://mirror.local:5000, without credentials (they go in machine.registries.hosts[].auth), query or fragment",
).meta({ pattern: "^https?://" });

/** An octal mode written as a string ("0644", "755"), as a number. */
const octalMode = z
  .string()
  .regex(/^0?[0-7]{3,4}$/)
  .transform((s) => Number.parseInt(s, 8));

export const fileMode = expecting(
  z.union([z.int().min(0).max(0o7777), octalMode]),
  `a file mode such as 420 or "0644" (an integer, or octal digits in a string)`,
);
