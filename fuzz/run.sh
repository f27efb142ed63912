#!/usr/bin/env bash
# Runs fuzz targets one after another, each for SECONDS (default 600), at the lowest CPU priority, on the stable
# toolchain (RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags). Seeds the corpora first (seed.sh), prints
# each target's libFuzzer summary, and stops at the first crash (the input is left in artifacts/<target>/).
# Usage: fuzz/run.sh [SECONDS] [TARGET...]   (no targets: all of them; needs `cargo install cargo-fuzz`)
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(v1 v2 binary longpoll_body pattern connect_params token origin)
fi
export RUSTC_BOOTSTRAP=1
./seed.sh
nice -n 19 cargo fuzz build
mkdir -p logs
for target in "${targets[@]}"; do
    echo "== $target: ${seconds}s"
    start=$(date +%s)
    status=0
    nice -n 19 cargo fuzz run "$target" -- -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
        -timeout=10 > "logs/$target.log" 2>&1 || status=$?
    echo "wall $(( $(date +%s) - start ))s, exit $status, corpus $(ls "corpus/$target" | wc -l) files"
    grep -E '^(Done|stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb))' \
        "logs/$target.log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 40 "logs/$target.log"
        exit "$status"
    fi
done
