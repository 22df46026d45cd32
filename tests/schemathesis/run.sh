#!/usr/bin/env bash
# Schemathesis against the local server: every operation of /openapi.json,
# signed in (hooks.py supplies the session cookie and the CSRF header), with
# the checks that must hold for any input: no answer >= 500, every status,
# content type and body as documented, and every documented problem+json
# 4xx a problem with type, title, status and code (hooks.py).
#
# Starts the debug konnecs-local on 127.0.0.1 (an ephemeral port) with a
# fresh data directory, in developer mode, and stops it afterwards. Exits
# non-zero on any failure. tests/run calls it with the bounded budget below;
# BENCHMARKS.md gives the command for a long run.
#
# Budget (environment):
#   KONNECS_ST_MAX_EXAMPLES  cases per operation and phase (default 5)
#   KONNECS_ST_PHASES        schemathesis phases (default examples,coverage,fuzzing)
#   KONNECS_ST_WORKERS       concurrent workers (default 2)
#   KONNECS_ST_SEED          fixed seed, to replay a run (default: random, printed)
#   KONNECS_ST_REPORT_DIR    where the JUnit report goes (default: a temp dir, removed)
#   KONNECS_ST_EXTRA_ARGS    more schemathesis options, e.g. "--include-path-regex ^/contacts"
#   KONNECS_ST_BINARY        a konnecs-local to test instead of building the debug one
#   KONNECS_ST_SCHEMA        a document file to test by instead of the served /openapi.json
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/konnecs-target}"
venv="${KONNECS_VENV:-$repo/.venv}"
schemathesis="$venv/bin/schemathesis"
if [ ! -x "$schemathesis" ]; then
  echo "schemathesis: $schemathesis is missing; run infra/test-tools.sh" >&2
  exit 1
fi

max_examples="${KONNECS_ST_MAX_EXAMPLES:-5}"
phases="${KONNECS_ST_PHASES:-examples,coverage,fuzzing}"
workers="${KONNECS_ST_WORKERS:-2}"
seed="${KONNECS_ST_SEED:-$(( (RANDOM << 15) | RANDOM ))}"

if [ -n "${KONNECS_ST_BINARY:-}" ]; then
  binary="$KONNECS_ST_BINARY"
else
  # Up to date after tests/run's build step: then this only checks fingerprints.
  cargo build --locked --quiet --workspace --bin konnecs-local
  binary="$CARGO_TARGET_DIR/debug/konnecs-local"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/konnecs-schemathesis.XXXXXX")"
server_pid=""
stop() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -INT "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT

# Loopback, no mail provider and the default http://127.0.0.1 public URL:
# developer mode, as the README's first command.
KONNECS_ADDR=127.0.0.1:0 KONNECS_DATA_DIR="$work/data" KONNECS_LOG_FORMAT=json \
  "$binary" >"$work/server.out" 2>&1 &
server_pid=$!

url=""
for _ in $(seq 1 600); do
  url="$(sed -n 's/^Konnecs is running at \([^ ]*\) .*/\1/p' "$work/server.out" | head -n 1)"
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "schemathesis: konnecs-local exited at start:" >&2; cat "$work/server.out" >&2; exit 1; }
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "schemathesis: konnecs-local printed no URL within 60 s" >&2
  exit 1
fi
echo "schemathesis: konnecs-local at $url; $max_examples examples per operation, phases $phases, $workers workers, seed $seed"

report_dir="$(realpath -m "${KONNECS_ST_REPORT_DIR:-$work/report}")"
schema="$url/openapi.json"
if [ -n "${KONNECS_ST_SCHEMA:-}" ]; then schema="$(realpath "$KONNECS_ST_SCHEMA")"; fi
status=0
# From the temp dir: schemathesis keeps its replay store in ./.schemathesis.
# shellcheck disable=SC2086 # KONNECS_ST_EXTRA_ARGS is a list of options.
( cd "$work" && KONNECS_ST_BASE_URL="$url" PYTHONPATH="$repo/tests/schemathesis${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=hooks \
  "$schemathesis" run "$schema" --url "$url" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,problem_json_errors \
  --phases "$phases" \
  --max-examples "$max_examples" \
  --workers "$workers" \
  --seed "$seed" \
  --max-redirects 0 \
  --request-timeout 30 \
  --suppress-health-check all \
  --warnings off \
  --report junit --report-dir "$report_dir" \
  ${KONNECS_ST_EXTRA_ARGS:-} ) || status=$?

if [ "$status" -ne 0 ]; then
  echo "schemathesis: failed (exit $status; seed $seed). Errors the server logged:" >&2
  grep -F '"level":"ERROR"' "$work/server.out" | tail -n 40 >&2 || true
fi
exit "$status"
