#!/usr/bin/env bash
# kiln's main job, locally: build, boot a kiln machine in a sandbox (machined
# as PID 1 of fresh namespaces, real containerd) and drive it with kilnctl.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/setup.sh
npx tsx hack/build.ts
kilnctl() { node bin/kilnctl.js "$@"; }
name=${KILN_DEMO_NAME:-demo}

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
kilnctl cluster destroy --name "$name" >/dev/null 2>&1 || true
say kilnctl cluster create --provisioner sandbox --name "$name" --config examples/sandbox.yaml -o json
info=$(kilnctl cluster create --provisioner sandbox --name "$name" --config examples/sandbox.yaml -o json)
echo "$info"
endpoint=$(node -e 'console.log(JSON.parse(process.argv[1]).localEndpoint)' "$info")

say kilnctl -e "$endpoint" version; kilnctl -e "$endpoint" version
for _ in $(seq 50); do # containerd needs a moment to answer its health check
  kilnctl -e "$endpoint" services -o json |
    node -e 'const s = JSON.parse(require("fs").readFileSync(0, "utf8")); process.exit(s.some((x) => x.id === "containerd" && x.healthy === true) ? 0 : 1)' && break
  sleep 0.2
done
say kilnctl -e "$endpoint" services; kilnctl -e "$endpoint" services
say kilnctl -e "$endpoint" logs containerd --tail 5; kilnctl -e "$endpoint" logs containerd --tail 5
say kilnctl -e "$endpoint" events --tail 8; kilnctl -e "$endpoint" events --tail 8
say kilnctl -e "$endpoint" get config; kilnctl -e "$endpoint" get config

cat <<TXT

The machine "$name" is still running. Try:
  node bin/kilnctl.js -e $endpoint service containerd restart
  node bin/kilnctl.js -e $endpoint logs containerd -f
  node bin/kilnctl.js cluster destroy --name $name
TXT
