#!/usr/bin/env bash
# The whole test suite: setup, generated-code check, type-check, lint, build,
# the Kubernetes programs (built from Debian's source once, then cached), then
# every tier — unit (no root), fuzz (seeded, bounded by KILN_FUZZ_MS: random
# configs and RPCs at machined and apid), sandbox (root, namespaces, real
# containerd), kubernetes (root, real etcd and Kubernetes programs as kiln runs
# them), vm (the bootable image in QEMU: KVM when it works, else TCG).
# On CI (CI=true) a tier whose prerequisite is missing fails.
# Ends with the failed steps, files and tests, the vm files' and tiers' times,
# and one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
# What git says before anything runs: the suite must leave tracked files as it found them.
tracked_before=$(git status --porcelain --untracked-files=no 2>/dev/null)
bash hack/setup.sh || exit 1

export PATH="$PWD/node_modules/.bin:$PATH"
results=$(mktemp -d)
# Its images (the vm tier's, ~2 GiB) and tap results are for this run only: a machine that runs the suite often must not fill up.
# The sandbox tier turns the host's ip_forward on; an interrupted run puts it back too.
forward=""
trap '[[ -z $forward ]] || echo "$forward" > /proc/sys/net/ipv4/ip_forward; rm -rf "$results"' EXIT
status=0
timings=()
failed_steps=()

step() { # step NAME CMD... : runs a check, failing the suite if it fails
  local name=$1 started=$SECONDS; shift
  echo "== $name" >&2
  if ! "$@"; then echo "== $name: FAILED" >&2; status=1; failed_steps+=("$name"); fi
  echo "== $name: $((SECONDS - started)) s" >&2
}

generated_up_to_date() { # src/gen must be what buf generates from proto/
  buf generate && git diff --quiet --exit-code -- src/gen || { echo "src/gen is stale: run 'npx buf generate' and commit" >&2; return 1; }
}

cpu_ticks() { # "busy total": the host's CPU ticks so far, all cores (/proc/stat; idle and iowait count as not busy; guest time is already in user and nice)
  local _ user nice system idle iowait irq softirq steal
  read -r _ user nice system idle iowait irq softirq steal _ < /proc/stat
  local total=$((user + nice + system + idle + iowait + irq + softirq + steal))
  echo "$((total - idle - iowait)) $total"
}

tier_began() { # tier_began NAME COUNT WHAT : notes the time and the CPU ticks a tier starts at
  tier_started=$SECONDS
  read -r tier_busy tier_total < <(cpu_ticks)
  echo "== tier $1 ($2 files$3)" >&2
}

tier_ended() { # tier_ended NAME : keeps the tier's time and how busy it kept the host's cores
  local busy total cpu
  read -r busy total < <(cpu_ticks)
  cpu=$(((busy - tier_busy) * 100 / (total - tier_total > 0 ? total - tier_total : 1)))
  timings+=("$1 $((SECONDS - tier_started)) s (cpu $cpu %)")
  echo "== tier $1: $((SECONDS - tier_started)) s, the host's cores $cpu % busy" >&2
}

# Every tap run is given --save with a list of exactly its files: without
# one, tap clears .tap/processinfo as it starts, where the node processes of
# another tap run at the same time write as they exit (mkdir, then write: a
# removal between the two fails that process).
tier() { # tier NAME FILES... : runs tap on the files, keeping its summary ($TIER_TIMEOUT s per file, $TIER_JOBS at once)
  local name=$1; shift
  (($#)) || { echo "== tier $name: FAILED, no files" >&2; status=1; return; }
  tier_began "$name" $# ""
  printf '%s\n' "$@" > "$results/$name.save"
  tap --reporter=tap --save="$results/$name.save" --timeout="${TIER_TIMEOUT:-600}" ${TIER_JOBS:+--jobs="$TIER_JOBS"} "$@" | tee "$results/$name.tap"
  [[ ${PIPESTATUS[0]} == 0 ]] || status=1
  tier_ended "$name"
}

# tier_queue NAME FILES... : tier, but each file in a tap of its own, started
# in the order given ($TIER_JOBS at once; tap itself sorts files by name), its
# output printed when it ends.
tier_queue() {
  local name=$1 dir="$results/$1.d"; shift
  (($#)) || { echo "== tier $name: FAILED, no files" >&2; status=1; return; }
  mkdir -p "$dir"
  tier_began "$name" $# ", ${TIER_JOBS:-1} at once, in this order: ${*##*/}"
  # shellcheck disable=SC2016 # expanded by the inner bash
  printf '%s\0' "$@" | xargs -0 -n1 -P "${TIER_JOBS:-1}" bash -c '
    out="$0/$(basename "$2")"
    printf "%s\n" "$2" > "$out.save"
    tap --reporter=tap --save="$out.save" --timeout="$1" "$2" > "$out.tap" 2> "$out.err"; rc=$?
    cat "$out.tap"; cat "$out.err" >&2
    exit $((rc == 0 ? 0 : 1))' "$dir" "${TIER_TIMEOUT:-600}" || status=1
  cat "$dir"/*.tap > "$results/$name.tap" 2>/dev/null
  tier_ended "$name"
}

# tier_beside NAME FILES... : runs tier in the background, its output held
# until tier_join prints it, for a tier that leaves the cores mostly idle
# beside another such tier (their "cpu" figures then count both).
beside=()
tier_beside() {
  local name=$1
  ( timings=() status=0; tier "$@" > "$results/$name.out" 2>&1; printf '%s\n' "${timings[@]}" > "$results/$name.timing"; exit "$status" ) &
  beside+=("$name:$!")
}
tier_join() { # waits for the tiers tier_beside started, then prints their output and keeps their times and status
  local entry name
  for entry in "${beside[@]}"; do
    name=${entry%%:*}
    wait "${entry#*:}" || status=1
    cat "$results/$name.out"
    [[ -s $results/$name.timing ]] && mapfile -t -O "${#timings[@]}" timings < "$results/$name.timing"
  done
  beside=()
}

members() { # members in|out FILE... -- SET... : the FILEs, in order, that are (in) or are not (out) in SET
  local want=$1 f; shift
  local -a files=()
  while (($#)) && [[ $1 != -- ]]; do files+=("$1"); shift; done
  (($#)) && shift
  for f in "${files[@]}"; do
    if [[ " $* " == *" $f "* ]]; then [[ $want == in ]] && echo "$f"; else [[ $want == out ]] && echo "$f"; fi
  done
  return 0
}

sandbox_prereqs() { # the sandbox tier needs root, unshare and containerd
  [[ $(id -u) == 0 ]] || { echo "needs root"; return 1; }
  command -v unshare >/dev/null && command -v containerd >/dev/null || { echo "needs unshare and containerd"; return 1; }
}

vm_prereqs() { # the vm tier needs root, QEMU and the image tools
  [[ $(id -u) == 0 ]] || { echo "needs root"; return 1; }
  for tool in qemu-system-x86_64 mksquashfs unsquashfs mkfs.vfat mcopy; do
    command -v "$tool" >/dev/null || { echo "needs $tool"; return 1; }
  done
}

step "buf lint" buf lint
step "generated code" generated_up_to_date
step "tsc --noEmit" tsc --noEmit -p .
step "biome lint" biome lint --error-on-warnings .
step "layers" depcruise --config .dependency-cruiser.cjs --output-type err-long src
step "build" tsx hack/build.ts

# Kubernetes' programs, built from Debian's source once and cached
# (~/.cache/kiln/kubernetes/<version>; 5-7 minutes the first time): the
# kubernetes tier runs them, the vm tier's cluster image carries them.
k8s_started=$SECONDS
if [[ $(id -u) == 0 ]] && KILN_KUBERNETES_DIR=$(bash hack/kubernetes.sh); then
  export KILN_KUBERNETES_DIR
  timings+=("kubernetes-build $((SECONDS - k8s_started)) s")
  echo "== kubernetes programs: $KILN_KUBERNETES_DIR ($((SECONDS - k8s_started)) s)" >&2
fi

# Two files at once: tap's default leaves one of two cores idle, and a unit
# file spends more of its time starting (node, tsx, tap's loaders: ~1.5 s)
# than testing.
mapfile -t unit < <(find test -name '*.test.ts' -not -path 'test/fuzz/*' -not -path 'test/sandbox/*' -not -path 'test/vm/*' -not -path 'test/kubernetes/*' | sort)
TIER_JOBS=2 tier unit "${unit[@]}"

mapfile -t sandbox < <(find test/sandbox -name '*.test.ts' 2>/dev/null | sort)
if why=$(sandbox_prereqs); then
  # control-plane and etcd-join run whole control planes: alone, one after
  # the other. The rest two files at once: one at a time kept the cores half
  # idle (names, /30 leases, cgroups and ports are each file's own).
  # fanout and etcd-join route through the host and each set and restore its
  # net.ipv4.ip_forward; on for the whole tier, neither can turn it off under
  # the other.
  alone=(test/sandbox/control-plane.test.ts test/sandbox/etcd-join.test.ts)
  mapfile -t paired < <(members out "${sandbox[@]}" -- "${alone[@]}")
  forward=$(cat /proc/sys/net/ipv4/ip_forward)
  echo 1 > /proc/sys/net/ipv4/ip_forward
  TIER_JOBS=1 tier sandbox-alone "${alone[@]}"
  TIER_JOBS=2 tier sandbox "${paired[@]}"
  echo "$forward" > /proc/sys/net/ipv4/ip_forward
  forward=""
elif [[ ${CI:-} == true ]]; then
  echo "== tier sandbox: FAILED, prerequisite missing on CI: $why" >&2; status=1
else
  echo "== tier sandbox: NOT RUN ($why) — run as root to include it" >&2
fi

# The fuzz tier, beside the kubernetes tier (together they kept the cores
# 20 % and 33 % busy, one after the other). Its files run one at a time: they
# share its budget (KILN_FUZZ_MS, default 60 s). The event loop's bound they
# check is scaled by the slowdown measured in the same run. Each prints its
# seed; KILN_FUZZ_SEED=N reruns the same inputs.
mapfile -t fuzz < <(find test/fuzz -name '*.test.ts' 2>/dev/null | sort)
if [[ ${#fuzz[@]} -gt 0 ]]; then
  echo "== fuzz seed ${KILN_FUZZ_SEED:-default}, budget ${KILN_FUZZ_MS:-60000} ms" >&2
  TIER_JOBS=1 tier_beside fuzz "${fuzz[@]}"
else
  echo "== tier fuzz: FAILED, no test/fuzz/*.test.ts" >&2; status=1
fi

# Real Kubernetes: its control plane, kubelet and kube-proxy as kiln runs them.
mapfile -t kubernetes < <(find test/kubernetes -name '*.test.ts' 2>/dev/null | sort)
if [[ -n ${KILN_KUBERNETES_DIR:-} && ${#kubernetes[@]} -gt 0 ]]; then
  tier kubernetes "${kubernetes[@]}"
elif [[ ${CI:-} == true ]]; then
  echo "== tier kubernetes: FAILED on CI: no Kubernetes programs (hack/kubernetes.sh, as root) or no test/kubernetes/*.test.ts" >&2; status=1
else
  echo "== tier kubernetes: NOT RUN (needs root to build Kubernetes with hack/kubernetes.sh)" >&2
fi

tier_join

mapfile -t vm < <(find test/vm -name '*.test.ts' 2>/dev/null | sort)
if why=$(vm_prereqs); then
  # One image for the whole tier, built the way a user builds it.
  export KILN_TEST_IMAGE="$results/image"
  # A build that fails leaves nothing half-written for the tier to boot.
  build_image() { node bin/kilnctl.js image build --out "$@" || { rm -rf "$1"; return 1; }; }
  step "image build" build_image "$KILN_TEST_IMAGE"
  # The image with Kubernetes' programs, which two files boot, built once
  # here rather than by whichever of them starts first.
  if [[ -n ${KILN_KUBERNETES_DIR:-} ]]; then
    step "image build (kubernetes)" build_image "$KILN_TEST_IMAGE-kubernetes" --kubernetes "$KILN_KUBERNETES_DIR"
  fi
  # Upgrades and rollbacks boot a VM five times or more under TCG, and the
  # Kubernetes cluster test boots two VMs and reboots both (9 minutes on a
  # quiet machine): 40 minutes a file.
  # The cluster test first, alone: its two VMs need both cores (beside
  # another vm file its control plane missed its health checks for 20
  # minutes). Then the rest two files at once: a booted VM waits on the test
  # much of the time, so two share the cores better than one (boot and disk:
  # 204 s one after the other, 155 s together).
  alone=(test/vm/cluster.test.ts)
  mapfile -t paired < <(members out "${vm[@]}" -- "${alone[@]}")
  TIER_JOBS=1 TIER_TIMEOUT=2400 tier vm-alone "${alone[@]}"
  # Longest first (file times of the last CI runs), so that no long file
  # starts last and runs alone: a queue of two, not tap's name order.
  mapfile -t longest < <(printf 'test/vm/%s.test.ts\n' upgrade-rollback upgrade install state-crash reset join-kubeadm disk config-sources boot image lifecycle maintenance time)
  # The listed files that exist, then any new one.
  mapfile -t queue < <(members in "${longest[@]}" -- "${paired[@]}"; members out "${paired[@]}" -- "${longest[@]}")
  TIER_JOBS=2 TIER_TIMEOUT=2400 tier_queue vm "${queue[@]}"
elif [[ ${CI:-} == true ]]; then
  echo "== tier vm: FAILED, prerequisite missing on CI: $why" >&2; status=1
else
  echo "== tier vm: NOT RUN ($why) — run as root with QEMU to include it" >&2
fi

tracked_unchanged() { # nothing the suite ran (setup, generate, build, tests) rewrote a tracked file
  local now; now=$(git status --porcelain --untracked-files=no 2>/dev/null)
  [[ $now == "$tracked_before" ]] || { echo "the suite rewrote tracked files:"; diff <(echo "$tracked_before") <(echo "$now"); return 1; } >&2
}
step "tracked files unchanged" tracked_unchanged

file_times() { # file_times TIER : "name N s" for each file of a tier, from tap's summary lines
  [[ -f $results/$1.tap ]] || return 0
  sed -nE 's|^(not )?ok [0-9]+ - test/[a-z]+/(.*)\.test\.ts # time=([0-9]+).*|\2 \3|p' "$results/$1.tap" |
    awk '{ printf "%s%s %d s", sep, $1, $2 / 1000; sep = ", " } END { if (NR) print "" }'
}

# One closing line for humans and CI: the tests of every file of every tier
# (tap nests a file's tests four spaces deep).
pass=$(cat "$results"/*.tap 2>/dev/null | grep -cE '^    ok ')
# A failing file counts once when none of its tests say why (it crashed).
failed_tests=$(cat "$results"/*.tap 2>/dev/null | grep -cE '^    not ok ')
failed_files=$(cat "$results"/*.tap 2>/dev/null | grep -cE '^not ok ')
fail=$((failed_tests > failed_files ? failed_tests : failed_files))
[[ $status == 0 || $fail -gt 0 ]] || fail=1
failures() { # the failing files and tests of every tier, one line each, so the run's last lines name them
  local f
  for f in "${failed_steps[@]}"; do echo "  step: $f"; done
  for f in "$results"/*.tap; do
    [[ -f $f ]] || continue
    sed -nE "s|^(    )?not ok [0-9]+ - (.*)|  $(basename "$f" .tap): \2|p" "$f" | cut -c1-300
  done
}
failed_list=$(failures)
[[ -z $failed_list ]] || printf 'failed:\n%s\n' "$failed_list"
alone_times=$(file_times vm-alone) paired_times=$(file_times vm)
vm_times="$alone_times${alone_times:+${paired_times:+, }}$paired_times"
[[ -z $vm_times ]] || echo "vm file times: $vm_times"
echo "tier times: ${timings[*]:-none}; whole run $SECONDS s"
echo "$pass passed, $fail failed"
exit $status
