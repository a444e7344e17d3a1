// kiln's layers, checked by `npm run layers` (part of `npm test` and `npm run check`).
// Each rule says what a part of src/ may not import. From the top down:
//
//   the host     cli → provision → image          (kilnctl, provisioners, the image builder)
//   the machine  machined (+ services) → init → net → sys;  apid, its own process
//   libraries    config, pki, grpc, gen           (every program may use them)
//   contract     machinery                        (everyone may use it; it uses nothing of ours)
//
// machinery is the contract the builder, the CLI and the machine share: disk
// layout, grub env, upgrade bundle, image layout, kernel module lists,
// well-known paths, apid's port. The machine never imports the builder; both
// import the contract. The rules say what the tree should be: fix the
// import, not the rule.
/** Paths of src/ parts, as dependency-cruiser regular expressions. */
const part = (...names) => `^src/(${names.join("|")})/`;

/** A rule: files under `from` may not import files under `to`. */
const layer = (name, comment, from, to) => ({ name, comment, severity: "error", from: { path: from }, to: { path: to } });

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "machinery-imports-only-itself",
      comment: "src/machinery is the contract: node built-ins, npm packages and itself, nothing else of ours",
      severity: "error",
      from: { path: part("machinery") },
      to: { path: "^src/", pathNot: part("machinery") },
    },
    {
      name: "sys-is-the-bottom",
      comment: "src/sys is the syscall boundary under everything: it imports nothing else of ours",
      severity: "error",
      from: { path: part("sys") },
      to: { path: "^src/", pathNot: part("sys") },
    },
    {
      name: "gen-is-generated",
      comment: "src/gen is what buf generates from proto/: it imports only itself",
      severity: "error",
      from: { path: part("gen") },
      to: { path: "^src/", pathNot: part("gen") },
    },
    {
      name: "net-is-above-sys-only",
      comment: "src/net speaks netlink and DHCP over src/sys: it imports sys, machinery and itself",
      severity: "error",
      from: { path: part("net") },
      to: { path: "^src/", pathNot: part("net", "sys", "machinery") },
    },
    layer("libraries-import-no-program", "config, pki and grpc are libraries every program uses: they import no program", part("config", "pki", "grpc"), part("init", "machined", "apid", "cli", "image", "provision")),
    layer("init-is-below-machined", "src/init (stage 1, PID-1 duties) runs before machined: it may not import machined, apid or the host's tools", part("init"), part("machined", "apid", "image", "cli", "provision")),
    layer("machine-never-imports-the-builder", "PID 1 code (init, machined, net, sys) imports the contract in src/machinery, never the image builder", part("init", "machined", "net", "sys"), part("image")),
    layer("machined-is-not-apid-nor-host", "machined runs apid as a service and shares only the contract (src/machinery) and proto with it; it never imports the CLI or provisioners", part("machined"), part("apid", "cli", "provision")),
    layer("apid-forwards-bytes", "apid is its own process: it forwards bytes and may not import machined, init or the host's tools", part("apid"), part("machined", "init", "image", "cli", "provision", "sys", "net")),
    layer("cli-is-a-client", "kilnctl runs on a workstation: machinery, config, gen, grpc, pki, the builder and provisioners; never the machine's code", part("cli"), part("machined", "init", "apid", "sys", "net")),
    layer("image-is-a-builder", "the builder builds the machine from the contract and bundles; it imports no machine code and no CLI", part("image"), part("machined", "init", "apid", "cli", "provision", "sys", "net")),
    layer("provision-is-host-side", "provisioners start machines from images; they may not import the machine's code or the CLI", part("provision"), part("machined", "init", "apid", "cli")),
    {
      name: "src-is-not-tests",
      comment: "src/ may not import test/, hack/ or bench/",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^(test|hack|bench)/" },
    },
    {
      name: "no-circular",
      comment: "no import cycles anywhere in src/ (type-only imports count: a cycle is a cycle to the reader)",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "not-to-unresolvable",
      comment: "every import resolves; otherwise the rules above would pass without looking",
      severity: "error",
      from: { path: "^src/" },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // Type-only imports are dependencies too: they tie a file to the layer it names.
    tsPreCompilationDeps: true,
    // NodeNext imports name "./x.js" for x.ts; dependency-cruiser maps them itself.
    enhancedResolveOptions: {
      extensions: [".ts", ".js", ".cjs", ".mjs", ".json"],
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "types", "default"],
    },
  },
};
