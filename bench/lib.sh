# bench/lib.sh: the helpers every bench section uses. Sourced by bench/run.sh,
# which has set OURS (a directory of applet symlinks to the release binary),
# FLOOR (a directory for the floor programs the sections build) and OUT (a
# scratch directory for this run).
#
# A section is a file bench/NN-NAME.sh that calls `section` once and then
# `compare` for each case; what it prints is markdown, gathered into
# bench/REPORT.md.

BENCH_RUNS=${BENCH_RUNS:-200}
BENCH_WARMUP=${BENCH_WARMUP:-10}

# section TITLE [TEXT]: start a section of the report.
section() {
  printf '\n## %s\n\n' "$1"
  if [ -n "${2:-}" ]; then printf '%s\n\n' "$2"; fi
  printf '| case | tool | median | spread (IQR) | min | ours ÷ this | peak RSS |\n'
  printf '|---|---|---:|---:|---:|---:|---:|\n'
}

# compare CASE LABEL CMD [LABEL CMD]...: time each command (no shell between
# hyperfine and the command, so only the tool is measured) and print one row
# each, with ours ÷ this: the first command's median (ours comes first) over
# this one's, so a target of ours/util-linux <= 1.00 reads off directly.
#
# The runs are made in BENCH_ROUNDS rounds (4 by default, 1 below 40 runs),
# the commands in turn within each round and in the reverse order every
# other round, and pooled: a slow spell of the machine then falls on every
# command alike instead of on whichever ran during it.
compare() {
  local case=$1; shift
  local json="$OUT/$(echo "$case" | tr -c 'A-Za-z0-9' '_').json"
  local -a labels=() cmds=()
  while [ $# -ge 2 ]; do
    labels+=("$1"); cmds+=("$2"); shift 2
  done
  local rounds=${BENCH_ROUNDS:-$((BENCH_RUNS >= 40 ? 4 : 1))} round i
  local per=$(((BENCH_RUNS + rounds - 1) / rounds))
  local -a order args
  for ((round = 0; round < rounds; round++)); do
    order=("${!cmds[@]}")
    if ((round % 2)); then
      order=(); for ((i = ${#cmds[@]} - 1; i >= 0; i--)); do order+=("$i"); done
    fi
    args=()
    for i in "${order[@]}"; do args+=(-n "${labels[$i]}" "${cmds[$i]}"); done
    hyperfine -N --style none --warmup "$BENCH_WARMUP" --runs "$per" \
      --export-json "$json.$round" "${args[@]}" >/dev/null 2>"$json.err" || {
      printf '| %s | (failed: %s) | | | | | |\n' "$case" "$(tail -1 "$json.err")"
      return 0
    }
  done
  python3 - "$json" "$rounds" "${labels[@]}" <<'PY'
import json, sys
path, rounds, labels = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
times = {label: [] for label in labels}
for r in range(rounds):
    for result in json.load(open(f"{path}.{r}"))["results"]:
        times[result["command"]] += result["times"]
json.dump({"results": [{"command": l, "times": times[l]} for l in labels]}, open(path, "w"))
PY
  local -a rss=()
  local c
  for c in "${cmds[@]}"; do rss+=("$(peak_rss $c)"); done
  # Beside the timings, for bench/targets.py.
  printf '%s\n' "${rss[@]}" >"$json.rss"
  python3 - "$case" "$json" "${rss[@]}" <<'PY'
import json, statistics, sys
case, path, rss = sys.argv[1], sys.argv[2], sys.argv[3:]
results = json.load(open(path))["results"]
base = None
for r, kib in zip(results, rss):
    times = sorted(r["times"])
    med = statistics.median(times)
    q = statistics.quantiles(times, n=4) if len(times) > 1 else [med, med, med]
    base = base or med
    ms = lambda s: f"{s * 1000:.3f} ms"
    ratio = f"{base / med:.2f}"
    print(f"| {case} | {r['command']} | {ms(med)} | {ms(q[2] - q[0])} | {ms(times[0])} | {ratio} | {kib} KiB |")
PY
}

# peak_rss CMD...: the peak resident set of CMD, in KiB: the median of five
# runs (the file pages a run maps vary with the page cache), each measured by
# a small static parent (bench/floor/peak-rss.c), since a child is charged
# the resident set of what it was forked from until it execs.
#
# CMD's executable is first written back and dropped from the page cache, so
# it is read back as any installed program is (the kernel's readahead). A
# file just written (our release binary, the floors built a moment ago) is
# cached in the large folios of the write, and a page fault then maps more of
# it around the page touched: up to 100 KiB more for the same binary, which
# util-linux's long-installed files never pay.
peak_rss() {
  [ -x "$FLOOR/peak-rss" ] || build_floor peak-rss
  settle_page_cache "$1"
  local i
  for i in 1 2 3 4 5; do "$FLOOR/peak-rss" "$@"; done | sort -n | sed -n 3p
}

# settle_page_cache PROGRAM: write PROGRAM's file back and drop its cached
# pages (dd's nocache flag: posix_fadvise DONTNEED on the whole file; pages
# some process has mapped stay).
settle_page_cache() {
  local file
  file=$(readlink -f "$(command -v "$1")") || return 0
  { sync "$file" && dd if="$file" iflag=nocache count=0 status=none; } 2>/dev/null || true
}

# build_floor NAME: compile bench/floor/NAME.c statically into $FLOOR/NAME.
build_floor() {
  gcc -O2 -static -o "$FLOOR/$1" "$BENCH_DIR/floor/$1.c"
}
