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

commands=(kubelet kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubectl)
cache="${KILN_CACHE:-$HOME/.cache/kiln}/kubernetes"

# The source package's version, e.g. 1.20.5+really1.20.2-1.1+deb12u1, and the
# upstream version it really is (1.20.2): the directory is named for the latter.
src_version() { apt-cache showsrc kubernetes 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -1; }
upstream_of() { local v=${1%%-*}; v=${v##*really}; echo "${v%%+*}"; }

built() { # built DIR: every command there, and the record of what built them
  local c
  for c in "${commands[@]}"; do [[ -x $1/$c ]] || return 1; done
  [[ -s $1/versions.json ]]
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
for pkg in golang-go rsync jq dpkg-dev; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
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

whats=$(printf 'cmd/%s ' "${commands[@]}")
echo "kubernetes: building ${commands[*]} with $(go version | cut -d' ' -f3) (5-7 minutes on two quiet cores)" >&2
started=$SECONDS
# GOPROXY=off: everything comes from the package's vendor tree; CGO_ENABLED=0: static binaries.
(cd "$tree" && CGO_ENABLED=0 GOPROXY=off GOFLAGS=-mod=vendor GO111MODULE=on KUBE_GIT_VERSION="v$(upstream_of "$version")" \
  make WHAT="${whats% }" >"$work/build.log" 2>&1) || { tail -30 "$work/build.log" >&2; echo "kubernetes: build failed; the whole log is $work/build.log" >&2; exit 1; }

mkdir -p "$out.tmp"
for c in "${commands[@]}"; do install -m 0755 "$tree/_output/local/bin/linux/amd64/$c" "$out.tmp/$c"; done
jq -n --arg kubernetes "$(upstream_of "$version")" --arg source "$version" --arg go "$(go version | cut -d' ' -f3)" \
  '{kubernetes: $kubernetes, debianSource: $source, go: $go}' >"$out.tmp/versions.json"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "kubernetes: built in $((SECONDS - started)) s into $out" >&2
echo "$out"
