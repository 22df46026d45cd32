#!/usr/bin/env bash
# Runs `cargo deny` (deny.toml at the repository root) with a pinned cargo-deny
# installed outside the clone, next to the build cache, so a warm machine
# never rebuilds it (the first install compiles it from crates.io: see
# infra/README.md, "Dependency hygiene", for how long that takes here).
#
# Licenses, bans and sources are checked always. Advisories need the
# RustSec database from GitHub: they are checked when it can be fetched
# (KONNECS_DENY_ADVISORIES=1 forces them and fails without a network;
# =0 skips them), otherwise skipped with a note saying so.
set -euo pipefail

CARGO_DENY_VERSION="0.20.2"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
tools="${KONNECS_TOOLS_DIR:-${CARGO_TARGET_DIR:-/var/tmp/konnecs-target}/tools}"
deny="$tools/bin/cargo-deny"

if [ ! -x "$deny" ] || [ "$("$deny" --version 2>/dev/null)" != "cargo-deny $CARGO_DENY_VERSION" ]; then
  echo "cargo-deny: installing $CARGO_DENY_VERSION into $tools (first time on this machine)"
  started=$(date +%s)
  # Its own build directory: the workspace's target dir stays the workspace's.
  CARGO_TARGET_DIR="$tools/build" cargo install cargo-deny --locked --version "$CARGO_DENY_VERSION" --root "$tools"
  echo "cargo-deny: installed in $(( $(date +%s) - started )) s"
  rm -rf "$tools/build"
fi

checks=(licenses bans sources)
case "${KONNECS_DENY_ADVISORIES:-auto}" in
  1) checks+=(advisories) ;;
  0) echo "cargo-deny: advisories skipped (KONNECS_DENY_ADVISORIES=0)" ;;
  *)
    if "$deny" fetch db >/dev/null 2>&1; then
      checks+=(advisories)
    else
      echo "cargo-deny: advisories SKIPPED - the RustSec advisory database could not be fetched (no network?);" \
        "run with KONNECS_DENY_ADVISORIES=1 where a network is available"
    fi
    ;;
esac

"$deny" --locked check "${checks[@]}"
