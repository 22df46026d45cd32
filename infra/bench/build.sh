#!/usr/bin/env bash
# Builds the Lambda packages measured in BENCHMARKS.md: release zips for arm64
# (what we deploy) and x86_64 binaries (what this x86_64 machine can run
# natively for the cold-start timing). Clean output dirs each time: cargo
# lambda leaves an old `bootstrap` beside a zip otherwise.
#
#   infra/bench/build.sh [OUT_DIR]   # default /var/tmp/konnecs-lambda
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${KONNECS_VENV:-$repo/.venv}"
out="${1:-/var/tmp/konnecs-lambda}"
export PATH="$venv/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/konnecs-target}"
cd "$repo"

rm -rf "$out"
for arch in arm64 x86-64; do
  format=zip
  [ "$arch" = x86-64 ] && format=binary
  for package in konnecs-functions konnecs-bench-hello; do
    start=$(date +%s)
    cargo lambda build --release "--$arch" --output-format "$format" \
      --lambda-dir "$out/$arch" -p "$package"
    echo "build.sh: $package $arch took $(( $(date +%s) - start )) s"
  done
done
find "$out" -type f \( -name '*.zip' -o -name bootstrap \) -exec ls -l {} +
