#!/usr/bin/env bash
# kiln's main job, locally: build the bootable image, generate a cluster's
# secrets and configs, boot a kiln VM in QEMU (a real kernel, our stage 1,
# machined as PID 1, DHCP, real containerd; KVM when it works, else TCG) and
# drive it with kilnctl over mTLS, as an operator would a remote machine.
# KILN_DEMO_PROVISIONER=sandbox runs machined in namespaces instead (faster).
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/setup.sh
npx tsx hack/build.ts
kilnctl() { node bin/kilnctl.js "$@"; }
name=${KILN_DEMO_NAME:-demo}
dir=${KILN_DEMO_DIR:-$HOME/.kiln/$name}
provisioner=${KILN_DEMO_PROVISIONER:-qemu}
image=${KILN_DEMO_IMAGE:-$HOME/.kiln/image}

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
kilnctl cluster destroy --name "$name" >/dev/null 2>&1 || true

say kilnctl gen config --name "$name" --endpoint 127.0.0.1 --out "$dir" --force
kilnctl gen config --name "$name" --endpoint 127.0.0.1 --out "$dir" --force
sed -i "s/^machine:\$/machine:\n  hostname: kiln-$name/" "$dir/worker.yaml"

create=(cluster create --provisioner "$provisioner" --name "$name" --config "$dir/worker.yaml" -o json)
if [[ $provisioner == qemu ]]; then
  say kilnctl image build --out "$image"; kilnctl image build --out "$image"
  create+=(--image "$image")
fi
say kilnctl "${create[@]}"
info=$(kilnctl "${create[@]}")
echo "$info"
endpoint=$(node -e 'console.log(JSON.parse(process.argv[1]).endpoint)' "$info")

export KILNCONFIG="$dir/kilnconfig"
say kilnctl config endpoint "$endpoint"; kilnctl config endpoint "$endpoint" >/dev/null
for _ in $(seq 100); do # apid and containerd need a moment
  kilnctl services -o json 2>/dev/null |
    node -e 'const s = JSON.parse(require("fs").readFileSync(0, "utf8")); process.exit(s.some((x) => x.id === "containerd" && x.healthy === true) ? 0 : 1)' && break
  sleep 0.2
done
say kilnctl version; kilnctl version
say kilnctl services; kilnctl services
say kilnctl get addresses; kilnctl get addresses
say kilnctl logs containerd --tail 5; kilnctl logs containerd --tail 5
say kilnctl events --tail 8; kilnctl events --tail 8
say kilnctl memory; kilnctl memory

cat <<TXT

The machine "$name" is still running, reached at $endpoint over mTLS. Try:
  export KILNCONFIG=$KILNCONFIG
  node bin/kilnctl.js service containerd restart
  node bin/kilnctl.js logs containerd -f
  node bin/kilnctl.js edit config
  node bin/kilnctl.js cluster destroy --name $name
TXT
