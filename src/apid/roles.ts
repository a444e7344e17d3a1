// The roles a client certificate carries in its Subject Organization values,
// ordered from least to most privileged, and the apid-to-apid role.

/** Ordinary roles, least privileged first: each includes the ones before it. */
export const roles = ["os:reader", "os:operator", "os:admin"] as const;
export type Role = (typeof roles)[number];

/** Held only by apids: lets the caller name the role it acts for (metadata `kiln-role`). */
export const impersonator = "os:impersonator";

/** Metadata key with which an impersonating apid names the caller's role. */
export const roleHeader = "kiln-role";

/** True when `s` names an ordinary role. */
export function isRole(s: string): s is Role {
  return (roles as readonly string[]).includes(s);
}

/** True when `have` grants at least what `need` asks for. */
export function includes(have: Role, need: Role): boolean {
  return roles.indexOf(have) >= roles.indexOf(need);
}

/** The most privileged ordinary role among `names`, if any. */
export function highestRole(names: readonly string[]): Role | undefined {
  return [...roles].reverse().find((r) => names.includes(r));
}
