// Tokens in the kubeadm bootstrap-token shape: [a-z0-9]{6}.[a-z0-9]{16}.
import { randomInt } from "node:crypto";

const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

/** `n` random characters from a-z and 0-9 (a CSPRNG, no modulo bias). */
function randomChars(n: number): string {
  return Array.from({ length: n }, () => alphabet[randomInt(alphabet.length)]).join("");
}

/** A fresh token such as abcdef.0123456789abcdef. */
export function generateToken(): string {
  return `${randomChars(6)}.${randomChars(16)}`;
}
