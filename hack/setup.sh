#!/usr/bin/env bash
# Installs everything kiln's build, demo and tests need on a fresh Debian 12
# machine: Debian packages (containerd, runc, tini, CNI plugins...) and the
# npm packages. Idempotent; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(containerd runc tini containernetworking-plugins iproute2 util-linux ca-certificates zsh fish cpio zstd xz-utils dnsmasq-base dosfstools mtools genisoimage qemu-system-x86 squashfs-tools e2fsprogs fdisk grub-common grub-pc-bin grub-efi-amd64-bin)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) != 0 ]]; then
    echo "setup: installing ${missing[*]} needs root; run as root (sudo)" >&2
    exit 1
  fi
  echo "setup: apt-get install ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm install, not npm ci: it installs what package-lock.json pins too, but
# does not refuse a lock that lacks other platforms' optional binaries (biome,
# buf), which the registry these machines reach does not serve.
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm install (from package-lock.json)" >&2
  npm install --no-audit --no-fund --loglevel=error
fi
