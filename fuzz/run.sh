#!/usr/bin/env bash
# make fuzz: run every fuzz target for FUZZ_SECONDS (default 600) each, one
# after another, and stop at the first crash (its input is kept under
# fuzz/artifacts/TARGET/). Needs the nightly toolchain and cargo-fuzz; with
# FUZZ_INSTALL=1 a missing cargo-fuzz is installed first.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${FUZZ_SECONDS:-600}
if ! cargo fuzz --version >/dev/null 2>&1; then
  if [ "${FUZZ_INSTALL:-0}" = 1 ]; then
    cargo install cargo-fuzz --locked
  else
    echo "fuzz: cargo-fuzz is needed (cargo install cargo-fuzz, or FUZZ_INSTALL=1)" >&2
    exit 1
  fi
fi
targets=${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}
cargo +nightly fuzz build >/dev/null
for t in $targets; do
  mkdir -p "corpus/$t"
  echo "fuzz: $t for ${seconds}s" >&2
  # -max_total_time bounds each target; libFuzzer exits non-zero on a crash.
  cargo +nightly fuzz run "$t" -- -max_total_time="$seconds" -print_final_stats=1 2>"corpus/$t.log" || {
    echo "fuzz: $t found a crash:" >&2
    tail -40 "corpus/$t.log" >&2
    exit 1
  }
  grep -E '^stat::number_of_executed_units' "corpus/$t.log" | sed "s/^/$t: /" >&2 || true
done
