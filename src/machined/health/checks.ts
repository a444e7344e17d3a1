// Health check factories. Each returns a HealthCheck: it resolves when the
// service is healthy and throws, saying why, when it is not. Targets may be
// given as a value or as a function of the machine (e.g. its paths).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { createConnection } from "node:net";
import { credentials } from "@grpc/grpc-js";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "../../gen/grpc/health/v1/health_pb.js";
import { createClient } from "../../grpc/client.js";
import type { HealthCheck, MachineContext } from "../service.js";
import { DEFAULT_PATH } from "../../machinery/paths.js";

/** A value, or how to compute it from the machine. */
export type FromMachine<T> = T | ((m: MachineContext) => T);

/** Resolves a FromMachine value. */
function resolve<T>(v: FromMachine<T>, m: MachineContext): T {
  return typeof v === "function" ? (v as (m: MachineContext) => T)(m) : v;
}

/** Healthy when the command exits 0; its last output line says why not. It gets a service's environment. */
export function execHealth(argv: FromMachine<string[]>): HealthCheck {
  return (m, signal) =>
    new Promise((ok, fail) => {
      const [cmd, ...args] = resolve(argv, m);
      const env = { PATH: DEFAULT_PATH, ...m.env };
      const child = spawn(cmd!, args, { env, signal, killSignal: "SIGKILL", stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      const keep = (c: Buffer) => (out = (out + c.toString()).slice(-512));
      child.stdout.on("data", keep);
      child.stderr.on("data", keep);
      child.once("error", (err) => fail(new Error(`running ${cmd}`, { cause: err })));
      child.once("close", (code, sig) => (code === 0 ? ok() : fail(new Error(exitText(cmd!, code, sig, out)))));
    });
}

/** "probe exited with code 1: not ready". */
function exitText(cmd: string, code: number | null, sig: NodeJS.Signals | null, out: string): string {
  const last = out.trim().split("\n").pop() ?? "";
  return `${cmd} ${sig ? `killed by ${sig}` : `exited with code ${code}`}${last ? `: ${last}` : ""}`;
}

/** Healthy on a 2xx answer to GET `url`. */
export function httpHealth(url: FromMachine<string>): HealthCheck {
  return async (m, signal) => {
    const target = resolve(url, m);
    const res = await fetch(target, { signal, redirect: "manual" });
    await res.body?.cancel();
    if (res.status < 200 || res.status > 299) throw new Error(`GET ${target}: HTTP ${res.status}`);
  };
}

/**
 * Healthy on a 2xx answer to GET `url` over HTTPS. The server's certificate is
 * verified against the CA in the PEM file `caFile`; without one it is not
 * verified at all, which only suits a probe of a self-signed server on loopback.
 */
export function httpsHealth(url: FromMachine<string>, caFile?: FromMachine<string>): HealthCheck {
  return (m, signal) =>
    new Promise((ok, fail) => {
      const target = resolve(url, m);
      const tls = caFile === undefined ? { rejectUnauthorized: false } : { ca: readFileSync(resolve(caFile, m)) };
      const req = request(target, { ...tls, signal }, (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        if (code >= 200 && code <= 299) ok();
        else fail(new Error(`GET ${target}: HTTP ${code}`));
      });
      req.once("error", (err) => fail(new Error(`GET ${target}`, { cause: err })));
      req.end();
    });
}

/** Healthy when grpc.health.v1 Check says SERVING; a bare path means a unix socket. */
export function grpcHealth(target: FromMachine<string>, service = ""): HealthCheck {
  return async (m, signal) => {
    const t = resolve(target, m);
    const client = createClient(Health, t.startsWith("/") ? `unix://${t}` : t, credentials.createInsecure());
    try {
      const res = await client.check({ service }, { signal });
      if (res.status !== Serving.SERVING) throw new Error(`${t}: ${Serving[res.status] ?? res.status}`);
    } finally {
      client.close();
    }
  };
}

/** Healthy when a connection to the unix socket at `path` succeeds. */
export function unixSocketHealth(path: FromMachine<string>): HealthCheck {
  return (m, signal) =>
    new Promise((ok, fail) => {
      const p = resolve(path, m);
      const sock = createConnection({ path: p });
      const abort = () => sock.destroy(new Error(`connecting to ${p}: aborted`));
      signal.addEventListener("abort", abort, { once: true });
      sock.once("connect", () => {
        sock.destroy();
        ok();
      });
      sock.once("error", (err) => fail(new Error(`connecting to ${p}`, { cause: err })));
      sock.once("close", () => signal.removeEventListener("abort", abort));
    });
}
