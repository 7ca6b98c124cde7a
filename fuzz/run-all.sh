#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600) one after another and prints, per target,
# the executions, the corpus size and whether anything was found. Needs cargo-fuzz
# (`cargo install cargo-fuzz`); RUSTC_BOOTSTRAP=1 lets the stable toolchain build with libFuzzer.
set -uo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O >/dev/null 2>&1 || { echo "cargo fuzz build failed" >&2; exit 1; }
status=0
for target in $(cargo fuzz list); do
  mkdir -p "corpus/$target"
  log="$(mktemp)"
  if cargo fuzz run -O "$target" "corpus/$target" -- -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    found="none"
  else
    found="CRASH: see fuzz/artifacts/$target"
    status=1
  fi
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)"
  corpus="$(ls "corpus/$target" | wc -l)"
  printf '%-16s %6ss %12s executions %6s corpus entries  findings: %s\n' "$target" "$seconds" "${execs:-?}" "$corpus" "$found"
  [ "$found" = none ] || tail -30 "$log"
  rm -f "$log"
done
exit $status
