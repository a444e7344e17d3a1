// kiln's roles, apart from the X.509 code that reads them (roles.ts), so the
// CLI can list them without loading it.

/** The roles kiln knows, most powerful first. */
export const roles = ["os:admin", "os:operator", "os:reader"] as const;
export type Role = (typeof roles)[number];

/** True when `text` is one of kiln's roles. */
export function isRole(text: string): text is Role {
  return (roles as readonly string[]).includes(text);
}
