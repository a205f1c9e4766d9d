#!/usr/bin/env bash
# make stress: many of our commands at once, then a check that nothing is
# left behind. Not part of make test; bounded in time (STRESS_TIMEOUT for
# the whole run, JOB_TIMEOUT for each command).
#
#   SCALE=1    the sizes of issue 8 (CI runs SCALE=0.1)
#   BIN=PATH   the binary under test (default: target/debug/nstools, built)
#   STRESS_SELFTEST=1  also leave things behind on purpose and check that
#              the checks see them
#
# The phases:
#   netns-churn  4 processes, each adding then deleting 250 named netns,
#                one by one and then in one call each way
#   unshare      200 concurrent `unshare -rmpf --mount-proc true`, as root
#                and again as uid 65534
#   nsenter      200 concurrent `nsenter -t PID -a true` into one target
#   link-race    `netns link A B` racing `netns delete A` (and B), 50 pairs
# After each: no entry in /run/netns, no nsfs mount, no process of ours
# left, the mount count as it was, and only lo in our network namespace.
#
# Runs as root, in a mount, PID and network namespace of its own with a
# tmpfs over /run/netns: the host's /run/netns, mounts, links and
# processes are never touched.
set -euo pipefail
[ "${STRESS_TRACE:-0}" = 1 ] && set -x
cd "$(dirname "$0")/.."

SCALE=${SCALE:-1}
JOB_TIMEOUT=${JOB_TIMEOUT:-120}

if [ -z "${STRESS_INSIDE:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "stress: must run as root" >&2; exit 1; }
  if [ -z "${BIN:-}" ]; then
    cargo build --quiet --locked
    BIN=target/debug/nstools
  fi
  BIN=$(readlink -f "$BIN")
  # The harness uses util-linux's unshare, not the tool under test.
  exec timeout --kill-after=10 "${STRESS_TIMEOUT:-1200}" \
    env STRESS_INSIDE=1 BIN="$BIN" SCALE="$SCALE" JOB_TIMEOUT="$JOB_TIMEOUT" \
    STRESS_SELFTEST="${STRESS_SELFTEST:-0}" STRESS_TRACE="${STRESS_TRACE:-0}" \
    /usr/bin/unshare --mount --pid --net --fork --mount-proc --propagation private \
    bash "$0"
fi

# ---- inside: PID 1 of our own PID namespace ----
scaled() { python3 -c "import sys; print(max(2, round($1 * float(sys.argv[1]))))" "$SCALE"; }

# /run/netns: a tmpfs of our own (over /run when the host has no
# /run/netns, so that no directory is made on the host).
if [ -d /run/netns ]; then
  mount -t tmpfs stress-netns /run/netns
else
  mount -t tmpfs stress-run /run
  mkdir /run/netns
fi

bindir=$(mktemp -d /tmp/nstools-stress.XXXXXX)
chmod 755 "$bindir"
trap 'rm -rf "$bindir"' EXIT
for a in $("$BIN" --list); do ln -s "$BIN" "$bindir/$a"; done
export PATH="$bindir:$PATH"
has_netns=false
[ -e "$bindir/netns" ] && has_netns=true

failures=0
fail() {
  echo "stress: FAIL: $*" >&2
  failures=$((failures + 1))
}

mounts() { wc -l </proc/self/mountinfo; }
nsfs_mounts() { awk '$0 ~ / - nsfs / {n++} END {print n+0}' /proc/self/mountinfo; }
# Processes in our PID namespace other than ourselves (PID 1): read with
# builtins only, so the check does not count itself.
others() {
  local n=0 p
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = 1 ] || [ "${p#/proc/}" = "$BASHPID" ] || n=$((n + 1))
  done
  echo "$n"
}

# Run "$@" N times at once (job I gets I as $STRESS_I); count failures.
# The commands' stderr goes to $log.
log=$(mktemp)
at_once() {
  local n=$1; shift
  local pids=() i bad=0
  for ((i = 1; i <= n; i++)); do
    STRESS_I=$i timeout --kill-after=5 "$JOB_TIMEOUT" "$@" 2>>"$log" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || bad=$((bad + 1)); done
  echo "$bad"
}

# The state that must come back after each phase.
check_clean() {
  local phase=$1 base_mounts=$2
  local left
  left=$(ls -A /run/netns | head -5 | tr '\n' ' ')
  [ -z "$left" ] || fail "$phase: left in /run/netns: $left"
  [ "$(nsfs_mounts)" = 0 ] || fail "$phase: $(nsfs_mounts) nsfs mounts left"
  [ "$(mounts)" = "$base_mounts" ] || fail "$phase: mount count $(mounts), was $base_mounts"
  [ "$(others)" = 0 ] || fail "$phase: $(others) processes left: $(ls /proc | grep -E '^[0-9]+$' | tr '\n' ' ')"
  left=$(ip -o link | awk -F': ' '$2 != "lo" {print $2}' | tr '\n' ' ')
  [ -z "$left" ] || fail "$phase: links left in our namespace: $left"
}

phase() {
  printf 'stress: %-12s %s\n' "$1" "$2" >&2
}

started=$SECONDS
base=$(mounts)

# ---- netns-churn ----
if $has_netns; then
  # The first add makes /run/netns a shared mount of its own, as ip netns
  # does, and it stays one: the baseline is taken after that.
  netns add stress-warmup && netns delete stress-warmup
  base=$(mounts)
  per=$(scaled 250)
  # Then the same names again in one call each way: a batch of 64 or more
  # is spread over worker processes (at least 64 here, whatever the scale).
  batch=$((per < 64 ? 64 : per))
  churn() {
    local w=$STRESS_I i names=()
    for ((i = 0; i < per; i++)); do netns add "c$w-$i" || return 1; done
    for ((i = 0; i < per; i++)); do netns delete "c$w-$i" || return 1; done
    for ((i = 0; i < batch; i++)); do names+=("c$w-$i"); done
    netns add "${names[@]}" && netns delete "${names[@]}"
  }
  export -f churn; export per batch
  t0=$SECONDS
  bad=$(at_once 4 bash -c churn)
  phase netns-churn "4 x $per add+delete, then 4 x $batch in one call: $bad failed workers, $((SECONDS - t0))s"
  [ "$bad" = 0 ] || fail "netns-churn: $bad workers failed: $(tail -3 "$log")"
  check_clean netns-churn "$base"
else
  phase netns-churn "skipped: this build has no netns applet"
fi

# ---- unshare ----
n=$(scaled 200)
t0=$SECONDS
bad=$(at_once "$n" unshare -rmpf --mount-proc true)
phase unshare "$n at once: $bad failed, $((SECONDS - t0))s"
[ "$bad" = 0 ] || fail "unshare: $bad of $n failed: $(tail -3 "$log")"
check_clean unshare "$base"

# ---- unshare, unprivileged ----
# The same as uid 65534: -r maps it to root in the new user namespace.
# (By full path: a PATH lookup as 65534 could fall back to util-linux's.)
setpriv --reuid=65534 --regid=65534 --clear-groups -- "$bindir/unshare" -r true ||
  fail "unshare-user: uid 65534 cannot run $BIN (a directory on its path not searchable?)"
t0=$SECONDS
bad=$(at_once "$n" setpriv --reuid=65534 --regid=65534 --clear-groups -- "$bindir/unshare" -rmpf --mount-proc true)
phase unshare-user "$n at once as uid 65534: $bad failed, $((SECONDS - t0))s"
[ "$bad" = 0 ] || fail "unshare-user: $bad of $n failed: $(tail -3 "$log")"
check_clean unshare-user "$base"

# ---- nsenter ----
n=$(scaled 200)
unshare -muinpf --mount-proc sleep 1000 &
holder=$!
target=
for _ in $(seq 100); do
  target=$(cat "/proc/$holder/task/$holder/children" 2>/dev/null | awk '{print $1}')
  [ -n "$target" ] && [ "$(readlink "/proc/$target/ns/pid")" != "$(readlink /proc/self/ns/pid)" ] && break
  target=
  sleep 0.05
done
if [ -z "$target" ]; then
  fail "nsenter: the target did not start"
else
  t0=$SECONDS
  bad=$(at_once "$n" nsenter -t "$target" -a true)
  phase nsenter "$n at once into $target: $bad failed, $((SECONDS - t0))s"
  [ "$bad" = 0 ] || fail "nsenter: $bad of $n failed: $(tail -3 "$log")"
  kill -KILL "$target"
fi
wait "$holder" 2>/dev/null || true
check_clean nsenter "$base"

# ---- link-race ----
if $has_netns; then
  pairs=$(scaled 50)
  for ((i = 0; i < pairs; i++)); do netns add "a$i" "b$i"; done
  race() {
    local i=$((STRESS_I - 1))
    # Even jobs delete A, odd ones B, while the link is being made.
    netns link "a$i" "b$i" 2>/dev/null &
    if ((i % 2)); then netns delete "b$i"; else netns delete "a$i"; fi
    # The job's status is the link's: 0 when it won the race.
    wait $!
  }
  export -f race
  t0=$SECONDS
  bad=$(at_once "$pairs" bash -c race)
  phase link-race "$pairs pairs: $((pairs - bad)) links made before the delete, $bad refused, $((SECONDS - t0))s"
  # What survived holds either no veth, or one whose peer is in the other
  # namespace of the pair, which must then be alive.
  for ((i = 0; i < pairs; i++)); do
    for ns in "a$i" "b$i"; do
      [ -e "/run/netns/$ns" ] || continue
      links=$(ip -n "$ns" -o link | awk -F': ' '$2 != "lo" {print $2}')
      for l in $links; do
        case $l in
          *@if*) ;;
          *) fail "link-race: $ns holds $l without a peer" ;;
        esac
      done
    done
  done
  netns delete --all || fail "link-race: netns delete --all failed"
  check_clean link-race "$base"
else
  phase link-race "skipped: this build has no netns applet"
fi

# STRESS_SELFTEST=1: leave a name, a bind and a process behind on purpose;
# the checks must see all three (a check that cannot fail proves nothing).
if [ "${STRESS_SELFTEST:-0}" = 1 ] && $has_netns; then
  before=$failures
  netns add selftest-leak
  sleep 100 &
  leak=$!
  check_clean selftest "$base" 2>/dev/null
  seen=$((failures - before))
  kill "$leak"; wait "$leak" 2>/dev/null || true; netns delete selftest-leak
  failures=$before
  phase selftest "$seen of 4 leaks seen (entry, nsfs mount, mount count, process)"
  [ "$seen" = 4 ] || fail "selftest: the checks saw $seen of the 4 leaks"
fi

phase total "$((SECONDS - started))s, SCALE=$SCALE"
if [ "$failures" != 0 ]; then
  echo "stress: $failures failures" >&2
  exit 1
fi
echo "stress: clean" >&2
