#!/usr/bin/env bash
# Kubernetes binaries for kiln images, built from Debian's own `kubernetes`
# source package with Debian's Go (Debian ships no kubelet). Built once into
# ~/.cache/kiln/kubernetes/<version>/ (or $KILN_CACHE/kubernetes/<version>)
# and reused; prints that directory on stdout. Never commit the binaries.
#
#   bash hack/kubernetes.sh          # build if needed, print the directory
#   bash hack/kubernetes.sh --check  # exit 0 if built, 1 if not (no build)
#
# Idempotent; run as root (it adds a deb-src entry and apt packages).
set -euo pipefail

# kubeadm goes into no image: the vm tier uses it to make a control plane that
# is not kiln's, for a kiln worker to join (test/vm/join-kubeadm.test.ts).
commands=(kubelet kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl kubeadm)
cache="${KILN_CACHE:-$HOME/.cache/kiln}/kubernetes"

# The source package's version, e.g. 1.20.5+really1.20.2-1.1+deb12u1, and the
# upstream version it really is (1.20.2): the directory is named for the latter.
src_version() { apt-cache showsrc kubernetes 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -1; }
upstream_of() { local v=${1%%-*}; v=${v##*really}; echo "${v%%+*}"; }

built() { # built DIR: every command there, and the record of what built them (with Debian's reflect2, below)
  local c
  for c in "${commands[@]}"; do [[ -x $1/$c ]] || return 1; done
  [[ -s $1/versions.json ]] && grep -q '"reflect2"' "$1/versions.json"
}

ensure_deb_src() { # apt-get source needs a deb-src entry; add one for Debian's main archive
  apt-cache showsrc kubernetes >/dev/null 2>&1 && [[ -n $(src_version) ]] && return 0
  echo "kubernetes: adding a deb-src entry (/etc/apt/sources.list.d/kiln-src.sources)" >&2
  local suite; suite=$(. /etc/os-release && echo "${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}")
  cat >/etc/apt/sources.list.d/kiln-src.sources <<EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  apt-get update -qq
}

ensure_deb_src
version=$(src_version)
[[ -n $version ]] || { echo "kubernetes: Debian's archive has no kubernetes source package; check /etc/apt/sources.list.d/kiln-src.sources" >&2; exit 1; }
out="$cache/$(upstream_of "$version")"

if [[ ${1:-} == --check ]]; then built "$out" && { echo "$out"; exit 0; }; exit 1; fi
if built "$out"; then echo "$out"; exit 0; fi

missing=()
for pkg in golang-go rsync jq dpkg-dev golang-github-modern-go-reflect2-dev; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if ((${#missing[@]})); then
  echo "kubernetes: apt-get install ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

work="$cache/src-$version"
if [[ ! -f $work/.unpacked ]]; then
  rm -rf "$work" && mkdir -p "$work"
  echo "kubernetes: apt-get source kubernetes=$version into $work" >&2
  (cd "$work" && apt-get source -qq "kubernetes=$version" >/dev/null)
  touch "$work/.unpacked"
fi
tree=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -1)
[[ -n $tree ]] || { echo "kubernetes: no source tree under $work" >&2; exit 1; }

# Kubernetes 1.20 vendors modern-go/reflect2 1.0.1, which reads Go's map
# iterator by an older layout: built with Go >= 1.18 (Debian 12 has 1.19), any
# program whose json-iterator encodes a map faults (kubeadm writing a static
# pod manifest does). Debian's reflect2 1.0.2 reads it by the running Go's.
reflect2=/usr/share/gocode/src/github.com/modern-go/reflect2
[[ -f $reflect2/go_above_118.go ]] || { echo "kubernetes: $reflect2 has no go_above_118.go: golang-github-modern-go-reflect2-dev is not the expected 1.0.2" >&2; exit 1; }
rsync -a --delete --exclude LICENSE "$reflect2/" "$tree/vendor/github.com/modern-go/reflect2/"
reflect2_version=$(dpkg-query -W -f '${Version}' golang-github-modern-go-reflect2-dev)

whats=$(printf 'cmd/%s ' "${commands[@]}")
echo "kubernetes: building ${commands[*]} with $(go version | cut -d' ' -f3) (5-7 minutes on two quiet cores)" >&2
started=$SECONDS
# GOPROXY=off: everything comes from the package's vendor tree; CGO_ENABLED=0: static binaries.
(cd "$tree" && CGO_ENABLED=0 GOPROXY=off GOFLAGS=-mod=vendor GO111MODULE=on KUBE_GIT_VERSION="v$(upstream_of "$version")" \
  make WHAT="${whats% }" >"$work/build.log" 2>&1) || { tail -30 "$work/build.log" >&2; echo "kubernetes: build failed; the whole log is $work/build.log" >&2; exit 1; }

mkdir -p "$out.tmp"
for c in "${commands[@]}"; do install -m 0755 "$tree/_output/local/bin/linux/amd64/$c" "$out.tmp/$c"; done
jq -n --arg kubernetes "$(upstream_of "$version")" --arg source "$version" --arg go "$(go version | cut -d' ' -f3)" --arg reflect2 "$reflect2_version" \
  '{kubernetes: $kubernetes, debianSource: $source, go: $go, reflect2: $reflect2}' >"$out.tmp/versions.json"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "kubernetes: built in $((SECONDS - started)) s into $out" >&2
echo "$out"
