# bench/40-mountprop.sh: listing mounts with their propagation, against
# findmnt and against merely reading mountinfo, at 1k, 10k and 30k mounts.
#
# The mounts are made in a mount namespace of the section's own: the section
# runs itself again under `unshare -m --propagation private` (hyperfine too,
# so the commands it times see those mounts), and the host never sees them.

if [ -z "${MOUNTPROP_BENCH_INNER:-}" ]; then
  MOUNTPROP_BENCH_INNER=1 BENCH_RUNS=$BENCH_RUNS BENCH_WARMUP=$BENCH_WARMUP \
    /usr/bin/unshare -m --propagation private \
    bash -c '. "$BENCH_DIR/lib.sh"; . "$BENCH_DIR/40-mountprop.sh"' ||
    printf '\n## mountprop\n\n(failed: could not run in a new mount namespace)\n'
else
  mp_base=$OUT/mountprop
  mkdir -p "$mp_base"
  mount -t tmpfs mountprop-bench "$mp_base"
  # mount(2) straight from one process: 30,000 mount(8) runs would take minutes.
  cat >"$OUT/mountprop-mkmounts.py" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
base, start, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(start, end):
    d = f"{base}/m{i}"
    os.mkdir(d)
    if libc.mount(b"tmpfs", d.encode(), b"tmpfs", 0, None) != 0:
        sys.exit(f"mount {d}: {os.strerror(ctypes.get_errno())}")
PY
  section "mountprop" "Printing every mount with its propagation in a mount namespace holding N tmpfs mounts (made by the bench; N counts those, the namespace holds about 20 more). Tree: \`mountprop\` against \`findmnt -o TARGET,PROPAGATION\` (both trees) and \`cat /proc/self/mountinfo\` (the floor: the kernel's text, unparsed). List: \`mountprop --list\` against \`findmnt -l\`. findmnt's tree grows quadratically, so its case runs at most 20 times at 10k and is left out at 30k."
  mp_have=0
  for mp_n in 1000 10000 30000; do
    python3 "$OUT/mountprop-mkmounts.py" "$mp_base" "$mp_have" "$mp_n"
    mp_have=$mp_n
    mp_k="$((mp_n / 1000))k"
    # findmnt's tree is quadratic: at most 20 runs of it from 10k on, none at 30k.
    mp_slow=$BENCH_RUNS
    [ "$mp_n" -ge 10000 ] && [ "$mp_slow" -gt 20 ] && mp_slow=20
    if [ "$mp_n" -le 10000 ]; then
      BENCH_RUNS=$mp_slow BENCH_WARMUP=2 compare "tree, $mp_k mounts" \
        "mountprop" "$OURS/mountprop" \
        "findmnt tree" "findmnt -o TARGET,PROPAGATION"
    fi
    compare "tree vs the floor, $mp_k mounts" \
      "mountprop" "$OURS/mountprop" \
      "cat mountinfo" "cat /proc/self/mountinfo"
    compare "list, $mp_k mounts" \
      "mountprop --list" "$OURS/mountprop --list" \
      "findmnt -l" "findmnt -l"
  done
fi
