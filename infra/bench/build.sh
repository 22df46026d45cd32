#!/usr/bin/env bash
# Builds the Lambda packages measured in BENCHMARKS.md: release zips for arm64
# (what we deploy) and x86_64 binaries (what this x86_64 machine can run
# natively for the cold-start timing). Clean output dirs each time: cargo
# lambda leaves an old `bootstrap` beside a zip otherwise.
#
#   infra/bench/build.sh [OUT_DIR [FUNCTION...]]
#
# OUT_DIR defaults to /var/tmp/konnecs-lambda; with FUNCTIONs (e.g. health
# jobs-worker reminders-tick) only those of konnecs-functions are built, not
# all of them (each is a fat-LTO link of several minutes).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${KONNECS_VENV:-$repo/.venv}"
out="${1:-/var/tmp/konnecs-lambda}"
shift || true
bins=()
for name in "$@"; do bins+=(--bin "$name"); done
export PATH="$venv/bin:$PATH"
# Release target dirs, one per package, kept between runs (never the test build's).
targets="${KONNECS_LAMBDA_TARGETS:-/var/tmp/konnecs-lambda-target}"
cd "$repo"

rm -rf "$out"
for arch in arm64 x86-64; do
  format=zip
  [ "$arch" = x86-64 ] && format=binary
  # hello in its own target dir, so its dependencies' features are its own,
  # not the union with the functions'; sdk-floor in the functions' (it links
  # konnecs for their SDK configuration, with their features).
  for package in konnecs-functions konnecs-bench-hello konnecs-bench-sdk-floor; do
    start=$(date +%s)
    selected=()
    target_dir="$targets/$package"
    [ "$package" = konnecs-functions ] && selected=("${bins[@]}")
    [ "$package" = konnecs-bench-sdk-floor ] && target_dir="$targets/konnecs-functions"
    CARGO_TARGET_DIR="$target_dir" \
      cargo lambda build --release "--$arch" --output-format "$format" \
      --lambda-dir "$out/$arch" -p "$package" "${selected[@]}"
    echo "build.sh: $package $arch took $(( $(date +%s) - start )) s"
  done
done
find "$out" -type f \( -name '*.zip' -o -name bootstrap \) -exec ls -l {} +
