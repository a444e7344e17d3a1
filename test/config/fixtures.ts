// Shared test material: documents built from objects, and a test CA.
import { stringify } from "yaml";
import { parseConfig } from "../../src/config/parse.js";
import type { MachineConfig } from "../../src/config/schema.js";

/** A test CA (Ed25519, "kiln example other CA"); its key is test-only. */
export const testCa = {
  crt: "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkVENDQVNlZ0F3SUJBZ0lVT1M2U0RrSSswekREdVdQS09uaGRWQ1BNNHNvd0JRWURLMlZ3TUM4eERUQUwKQmdOVkJBb01CR3RwYkc0eEhqQWNCZ05WQkFNTUZXdHBiRzRnWlhoaGJYQnNaU0J2ZEdobGNpQkRRVEFnRncweQpOakV4TWpJd05EQTNOVEJhR0E4eU1USTJNVEF5T1RBME1EYzFNRm93THpFTk1Bc0dBMVVFQ2d3RWEybHNiakVlCk1Cd0dBMVVFQXd3VmEybHNiaUJsZUdGdGNHeGxJRzkwYUdWeUlFTkJNQ293QlFZREsyVndBeUVBb3RERHZvbjkKQTQwOE9hbzE0elA4S0dWb1VsMnEyVWQ3UzFqbXFjRTc5eVdqVXpCUk1CMEdBMVVkRGdRV0JCVGtjSEd6VGpGTQpjallKUUlNdURCamVrNndsQmpBZkJnTlZIU01FR0RBV2dCVGtjSEd6VGpGTWNqWUpRSU11REJqZWs2d2xCakFQCkJnTlZIUk1CQWY4RUJUQURBUUgvTUFVR0F5dGxjQU5CQU5NNXV5WlByeGw1dHA4UkFzdnJJRmFkRWFXNDJ4ZVUKUlNkbzcyT1owSnh3OHBwWVp3Y2dKK1I2bDEvbGZpeG5iV3cxUHR0ZnZ5NVRuU0E2Vkk3Y09RST0KLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=",
  key: "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1DNENBUUF3QlFZREsyVndCQ0lFSVAyTjdUV0FubHpMcDVTTk5sRDZCQ3VJeWpuaURwNkFWaTcxc3VQU2liOXgKLS0tLS1FTkQgUFJJVkFURSBLRVktLS0tLQo=",
};

/** A valid Ed25519 private key that does not belong to testCa.crt. */
export const strangerKey =
  "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1DNENBUUF3QlFZREsyVndCQ0lFSVAxZEROSFZ5NHJNc0xCRldNZm84VnFYRGhKTlBqRXhxYzN6dW5lYk13WlAKLS0tLS1FTkQgUFJJVkFURSBLRVktLS0tLQo=";

export const header = "apiVersion: kiln/v1alpha1\nkind: MachineConfig\n";

/** A whole document as YAML text from an object (apiVersion and kind added). */
export function yamlDoc(rest: Record<string, unknown>): string {
  return stringify({ apiVersion: "kiln/v1alpha1", kind: "MachineConfig", ...rest });
}

/** A worker's document with these machine fields added. */
export function worker(machine: Record<string, unknown>, rest: Record<string, unknown> = {}): string {
  return yamlDoc({ machine: { type: "worker", ...machine }, ...rest });
}

/** One extension service with the fields it needs, plus `extra`. */
export function service(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, command: [`/usr/bin/${id}`], ...extra };
}

/** Parses `yaml`, throwing with every error when it is not a valid config. */
export function configOf(yaml: string): MachineConfig {
  const result = parseConfig(yaml);
  if ("errors" in result) throw new Error(`invalid test config:\n${result.errors.join("\n")}`);
  return result.config;
}
