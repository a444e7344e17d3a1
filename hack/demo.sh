#!/usr/bin/env bash
# kiln's main job, locally: a Kubernetes cluster of kiln machines. Builds
# Kubernetes from Debian's source (once, cached) and the bootable image with
# it, boots one control plane and one worker in QEMU on a bridge of their own
# (KVM when it works, else TCG), founds etcd and waits until `kilnctl health`
# holds; then shows the Nodes Ready with kubectl and runs a pod from an image
# brought in with `kilnctl image import` — all offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/setup.sh
npx tsx hack/build.ts
kilnctl() { node bin/kilnctl.js "$@"; }
name=${KILN_DEMO_NAME:-demo}
dir=${KILN_DEMO_DIR:-$HOME/.kiln/$name}
image=${KILN_DEMO_IMAGE:-$HOME/.kiln/image}
mkdir -p "$dir"
export KILNCONFIG=$dir/kilnconfig

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
kilnctl cluster destroy "$name" >/dev/null 2>&1 || true

say bash hack/kubernetes.sh
k8s=$(bash hack/kubernetes.sh)
kubectl() { "$k8s/kubectl" "$@"; }

say kilnctl image build --out "$image" --kubernetes "$k8s"
kilnctl image build --out "$image" --kubernetes "$k8s"

say kilnctl cluster create --provisioner qemu --name "$name" --controlplanes 1 --workers 1 --image "$image" --wait
kilnctl cluster create --provisioner qemu --name "$name" --controlplanes 1 --workers 1 --image "$image" --wait --wait-timeout 20m

say kilnctl health; kilnctl health --wait-timeout 0
say kubectl get nodes -o wide; kubectl get nodes -o wide

say kilnctl image import busybox.tar "(to each node)"
npx tsx hack/busybox-image.ts "$dir/busybox.tar"
nodes=$(kilnctl cluster show "$name" -o json | node -e 'for (const n of JSON.parse(require("fs").readFileSync(0, "utf8")).nodes) console.log(n.address)')
for node in $nodes; do
  kilnctl -n "$node" image import "$dir/busybox.tar"
done

say kubectl run hello --image kiln.local/busybox:test --image-pull-policy Never --restart Never -- /bin/busybox echo hello from a pod on kiln
kubectl delete pod hello --ignore-not-found >/dev/null
kubectl run hello --image kiln.local/busybox:test --image-pull-policy Never --restart Never -- /bin/busybox echo hello from a pod on kiln
for _ in $(seq 120); do
  [[ $(kubectl get pod hello -o jsonpath='{.status.phase}') == Succeeded ]] && break
  sleep 2
done
say kubectl logs hello; kubectl logs hello

cat <<TXT

The cluster "$name" is still running: kubectl's current context is its admin,
kilnctl's ($KILNCONFIG) reaches every node. Try:
  export KILNCONFIG=$KILNCONFIG
  alias kubectl=$k8s/kubectl
  kubectl get pods -A -o wide
  node bin/kilnctl.js services
  node bin/kilnctl.js -n ${nodes##*$'\n'} logs kubelet
  node bin/kilnctl.js cluster destroy $name
TXT
