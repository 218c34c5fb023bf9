#!/usr/bin/env bash
# `make run` on a fresh clone, timed to the first 200 from /health, with empty pip and
# uv caches (what a newcomer's machine has). Compares two commits in the same run:
#   bash bench/fresh_install.sh [BASELINE_COMMIT] [COMMIT]
# e.g. bash bench/fresh_install.sh 4c8519e HEAD  (before and after the lock files).
set -euo pipefail
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
baseline=${1:-HEAD~1}
candidate=${2:-HEAD}
port=$((18000 + RANDOM % 1000))

measure() {
  local commit=$1 work
  work=$(mktemp -d)
  git clone -q "$repo" "$work/tally" && git -C "$work/tally" checkout -q "$commit"
  local start end pid
  start=$(date +%s.%N)
  (cd "$work/tally" && PIP_NO_CACHE_DIR=1 UV_CACHE_DIR="$work/uv-cache" PORT=$port \
    exec setsid make run >"$work/run.log" 2>&1) &
  pid=$!  # setsid: make and the server it starts are one process group
  for _ in $(seq 1 1200); do
    if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; then break; fi
    sleep 0.25
  done
  end=$(date +%s.%N)
  kill -- -"$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  printf '%s\t%.1f s\n' "$commit" "$(echo "$end - $start" | bc)"
  rm -rf "$work"
}

echo "commit	make run to /health (fresh clone, empty caches)"
measure "$baseline"
measure "$candidate"
