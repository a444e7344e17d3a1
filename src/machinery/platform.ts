// The platforms kiln runs on. Stage 1 and machined both decide by it what
// they may touch (the sandbox shares its host's kernel).

/** Where machined runs: decides what may touch the kernel globally. */
export type PlatformName = "sandbox" | "metal";
