#!/usr/bin/env bash
# Installs everything kiln's build, demo and tests need on a fresh Debian 12
# machine: Debian packages (containerd, runc, tini, catatonit, docker-registry, CNI plugins, busybox-static for test images...) and the
# npm packages. Idempotent; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(containerd runc tini catatonit etcd-server etcd-client docker-registry containernetworking-plugins iproute2 util-linux iptables conntrack ca-certificates zsh fish cpio zstd xz-utils dnsmasq-base dosfstools mtools genisoimage qemu-system-x86 squashfs-tools e2fsprogs fdisk grub-common grub-pc-bin grub-efi-amd64-bin chrony busybox-static)

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
  # chrony is the vm tier's NTP server (test/vm/time.test.ts runs its own
  # chronyd -x on 127.0.0.1). Its package would start and enable the system's
  # chronyd, which would bind port 123 and steer this host's clock: a
  # policy-rc.d that refuses every start (unless one is there already) keeps
  # it from starting during the install, and it is disabled afterwards.
  # (chrony replaces systemd-timesyncd: both provide time-daemon.)
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [[ -d /run/systemd/system ]] && systemctl is-enabled --quiet chrony.service 2>/dev/null; then
  echo "setup: disabling the system's chronyd (the vm tier runs its own)" >&2
  systemctl disable --now chrony.service >/dev/null 2>&1
fi
# docker-registry likewise: test/machined/services/registry-pull.test.ts runs
# its own on 127.0.0.1; the package's service would listen on :5000.
if [[ -d /run/systemd/system ]] && systemctl is-enabled --quiet docker-registry.service 2>/dev/null; then
  echo "setup: disabling the system's docker-registry (the tests run their own)" >&2
  systemctl disable --now docker-registry.service >/dev/null 2>&1
fi
# etcd-server likewise: the image takes its binary, and the tests start their
# own etcd on ports of their own; the package's service would hold :2379.
if [[ -d /run/systemd/system ]] && systemctl is-enabled --quiet etcd.service 2>/dev/null; then
  echo "setup: disabling the system's etcd (kiln's image and tests run their own)" >&2
  systemctl disable --now etcd.service >/dev/null 2>&1
fi

# npm ci: exactly what package-lock.json pins (it carries every platform's
# optional biome and buf binaries), and the lock is never rewritten.
if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "setup: npm ci (from package-lock.json)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  # tap's test class as package.json's plugins make it. npm ci installs it
  # with every default plugin; tap rebuilds it when it sees the difference,
  # but only for its next run, so the first tier would run with the mock and
  # typescript loaders on every test file (~45 % slower).
  npx tap build >/dev/null
fi
