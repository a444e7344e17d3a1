// Machine names: they name a state directory, a hostname and a socket path,
// so they are DNS labels.
const label = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/** Why `name` is not a valid machine name, or undefined when it is. */
export function nameProblem(name: unknown): string | undefined {
  if (typeof name !== "string" || name === "") return `Expected the machine name to be a non-empty string, got ${JSON.stringify(name)}`;
  if (name.length > 63) return `Expected the machine name to be at most 63 characters, got ${name.length}`;
  if (!label.test(name)) {
    return `Expected the machine name to be lowercase letters, digits and inner dashes ([a-z0-9-]), got ${JSON.stringify(name)}`;
  }
  return undefined;
}

/** Throws when `name` is not a valid machine name. */
export function checkName(name: unknown): asserts name is string {
  const problem = nameProblem(name);
  if (problem) throw new Error(problem);
}
