#!/usr/bin/env bash
# Fuzzes Konnecs's outside-input parsers with cargo-fuzz (libFuzzer). The
# targets are tests/fuzz/fuzz_targets/*.rs; their bodies and invariants live in
# tests/fuzz-targets/ (a workspace member), whose corpus replay runs in tests/run
# on stable. This script is for the long runs (BENCHMARKS.md, "Fuzzing").
#
#   bash infra/fuzz.sh list                    the targets
#   bash infra/fuzz.sh run TARGET [SECONDS]    fuzz one target (default 600 s)
#   bash infra/fuzz.sh cmin TARGET             minimize its corpus in place
#
# cargo-fuzz is pinned and installed outside the clone, next to the build
# cache (like infra/cargo-deny.sh). The machine has one stable toolchain and
# CI can fetch no other: cargo-fuzz's flags (-Z options, sancov passes) are
# unlocked on it with RUSTC_BOOTSTRAP=1. No sanitizer is used
# (`--sanitizer none`): the targets are safe Rust, where AddressSanitizer
# finds nothing more and halves the speed; debug assertions (integer
# overflow among them) stay on. The first input of a run pays for the
# phone metadata and, in the HTTP targets, the app's set-up (password
# hashing included) in an unoptimized build: hence the generous timeout.
set -euo pipefail

CARGO_FUZZ_VERSION="0.13.1"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-/var/tmp/konnecs-target}"
tools="${KONNECS_TOOLS_DIR:-$target_dir/tools}"
fuzz="$tools/bin/cargo-fuzz"

if [ ! -x "$fuzz" ] || [ "$("$fuzz" --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  echo "cargo-fuzz: installing $CARGO_FUZZ_VERSION into $tools (first time on this machine)"
  CARGO_TARGET_DIR="$tools/build" cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" --root "$tools"
  rm -rf "$tools/build"
fi

export RUSTC_BOOTSTRAP=1
cd "$repo/tests/fuzz"
# Instrumented builds differ from the workspace's: their own directory.
common=(--sanitizer none --target-dir "$target_dir/fuzz")

case "${1:-}" in
  list) "$fuzz" list ;;
  run)
    target="${2:?target}"
    seconds="${3:-600}"
    mkdir -p "corpus/$target"
    # A work directory for what libFuzzer adds; `cmin` merges it back.
    work="$target_dir/fuzz-corpus/$target"
    mkdir -p "$work"
    "$fuzz" run "${common[@]}" "$target" "$work" "corpus/$target" -- \
      -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=4096 -timeout=300 -print_final_stats=1
    ;;
  cmin)
    target="${2:?target}"
    work="$target_dir/fuzz-corpus/$target"
    mkdir -p "$work"
    cp -n "corpus/$target"/* "$work"/ 2>/dev/null || true
    rm -rf "corpus/$target"
    mkdir -p "corpus/$target"
    # Keeps the smallest set of inputs that covers what the whole set covers.
    "$fuzz" run "${common[@]}" "$target" "corpus/$target" "$work" -- -merge=1 -rss_limit_mb=4096 -max_len=4096 -timeout=300
    ;;
  *)
    echo "usage: bash infra/fuzz.sh list | run TARGET [SECONDS] | cmin TARGET" >&2
    exit 2
    ;;
esac
