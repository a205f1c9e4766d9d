#!/usr/bin/env bash
# make bench: run every section bench/NN-*.sh against the release binary and
# write bench/REPORT.md (machine, kernel, date, tool versions, the tables).
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
# The bench makes named network namespaces and mounts: it runs in a private
# mount namespace of its own with a tmpfs over /run, so the host's /run/netns
# and mount table are never touched (and anything left dies with it).
if [ -z "${BENCH_ISOLATED:-}" ]; then
  exec /usr/bin/unshare -m --propagation private env BENCH_ISOLATED=1 bash "$0" "$@"
fi
mount -t tmpfs -o mode=0755 bench-run /run
ROOT=$(dirname "$BENCH_DIR")
BIN=$ROOT/target/nstools
for tool in hyperfine python3 gcc; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is needed (apt-get install $tool)" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "bench: build first (make)" >&2; exit 1; }

OUT=$BENCH_DIR/out
rm -rf "$OUT"; mkdir -p "$OUT/bin" "$OUT/floor"
OURS=$OUT/bin FLOOR=$OUT/floor
cp "$BIN" "$OURS/nstools"
for a in $("$BIN" --list); do ln -s nstools "$OURS/$a"; done
chmod -R a+rX "$OUT"
export BENCH_DIR OURS FLOOR OUT
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

# A machine still busy (the kernel tears network namespaces down in the
# background for a minute or more after a run that made thousands) skews
# every row: wait, up to BENCH_SETTLE seconds, for the load to fall.
settle=${BENCH_SETTLE:-240}
until awk '{ exit !($1 < 0.3) }' /proc/loadavg || [ "$settle" -le 0 ]; do
  sleep 5; settle=$((settle - 5))
done
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)

report=$OUT/REPORT.md
{
  echo "# nstools benchmark report"
  echo
  echo "Made by \`make bench\` on $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo
  echo "- machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')), $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "- kernel: $(uname -sr)"
  echo "- nstools: $("$BIN" --version)"
  echo "- util-linux: $(/usr/bin/unshare --version | head -1)"
  echo "- iproute2: $(ip -V 2>&1 | head -1)"
  echo "- findmnt: $(findmnt --version | head -1)"
  echo "- hyperfine: $(hyperfine --version)"
  echo "- load average at the start: $load_at_start"
  echo
  echo "Each row: the median of ${BENCH_RUNS:-200} runs (after warm-up; made in rounds that take the"
  echo "commands in turn, so that a slow spell of the machine falls on all of them), the interquartile"
  echo "range, the fastest run, 'ours ÷ this' (the first row's median over this row's:"
  echo "below 1.00 means ours is faster) and the peak resident set (median of five runs). 'floor' is"
  echo "a static C program of the bench's own that makes only the syscalls the case needs."
  for s in "$BENCH_DIR"/[0-9][0-9]-*.sh; do
    # BENCH_SECTIONS="10 20" runs only those sections (a partial report,
    # left in bench/out, not copied over bench/REPORT.md).
    case " ${BENCH_SECTIONS:-${s##*/}} " in *" $(basename "$s" | cut -c1-2) "*|*" ${s##*/} "*) ;; *) continue ;; esac
    echo "bench: $(basename "$s")" >&2
    # shellcheck disable=SC1090
    . "$s"
  done
  python3 "$BENCH_DIR/targets.py" "$OUT"
} >"$report"
if [ -z "${BENCH_SECTIONS:-}" ]; then cp "$report" "$BENCH_DIR/REPORT.md"; fi
cat "$report"
