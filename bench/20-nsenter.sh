# bench/20-nsenter.sh: entering a running target's namespaces, and a
# /run/netns file. Sourced by bench/run.sh: everything runs in a subshell
# whose trap kills the target and deletes the named netns it made.
(
  target_parent=
  netns_name=nstools-bench-$$
  target=
  cleanup() {
    # The target is the init of its PID namespace: killing it ends the rest.
    if [ -n "$target" ]; then kill -9 "$target" 2>/dev/null || true; fi
    if [ -n "$target_parent" ]; then kill -9 "$target_parent" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    ip netns del "$netns_name" 2>/dev/null || true
  }
  trap cleanup EXIT

  # The target: its own user, mount, UTS, IPC, network, cgroup and PID
  # namespaces (time stays ours, which both tools then skip or re-enter).
  "$OURS/unshare" --fork --pid --mount-proc -rmuinC sleep 600 </dev/null &
  target_parent=$!
  for _ in $(seq 200); do
    target=$(cat "/proc/$target_parent/task/$target_parent/children" 2>/dev/null | awk '{print $1}')
    [ -n "$target" ] && [ "$(cat "/proc/$target/comm" 2>/dev/null)" = sleep ] && break
    sleep 0.05
  done
  build_floor nsenter

  section "nsenter: enter a target's namespaces" \
"\`nsenter -t PID -a /bin/true\` against a target made by \`unshare --fork --pid --mount-proc -rmuinC sleep\`
(seven namespaces to enter, and a fork for the PID namespace). Ours enters them with one
setns(2) on a pidfd; util-linux opens and enters each file; the floor opens and enters the
same seven files and forks. Targets: ours ÷ util-linux ≤ 1.00, ours ÷ floor ≤ 1.20.
The 'ours ÷ this' column is the ratio of medians (below 1.00: ours faster)."
  compare "nsenter -t PID -a" \
    ours "$OURS/nsenter -t $target -a /bin/true" \
    util-linux "/usr/bin/nsenter -t $target -a /bin/true" \
    floor "$FLOOR/nsenter $target user cgroup ipc uts net pid mnt"

  ip netns add "$netns_name"
  section "setns-run: run in a /run/netns namespace" \
"\`setns-run /run/netns/NAME -- /bin/true\` against \`ip netns exec NAME /bin/true\`, which also
makes a mount namespace and remounts /sys for the command."
  compare "one /run/netns file" \
    ours "$OURS/setns-run /run/netns/$netns_name -- /bin/true" \
    "ip netns exec" "ip netns exec $netns_name /bin/true" \
    "nsenter --net" "/usr/bin/nsenter --net=/run/netns/$netns_name /bin/true"
)
