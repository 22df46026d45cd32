#!/usr/bin/env bash
# Installs the test tools (AWS emulator, template linter, SAM transform, SMTP server,
# OpenAPI validator, API fuzzer) into a project-local
# venv, pinned, so every machine tests against the same emulator behaviour.
# Idempotent: installs only what is missing or at another version.
set -euo pipefail

MOTO_VERSION="5.2.5"
CFN_LINT_VERSION="1.58.0"
# The SAM transform CloudFormation runs: tests/stack_limits.rs counts what
# each generated stack becomes (infra/stack_limits.py).
SAM_TRANSLATOR_VERSION="1.115.0"
# A real SMTP server on loopback for the SMTP mailer tests (tests/smtp.rs).
AIOSMTPD_VERSION="1.4.6"
# Validates /openapi.json as OpenAPI 3.1 (tests/openapi_spec.rs).
OPENAPI_SPEC_VALIDATOR_VERSION="0.9.0"
# Fuzzes every operation of /openapi.json against the local server
# (tests/schemathesis/run.sh).
SCHEMATHESIS_VERSION="4.32.5"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${KONNECS_VENV:-$repo/.venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  echo "test-tools: creating venv at $venv"
  "$python" -m venv "$venv"
else
  echo "test-tools: using venv at $venv"
fi

# Prints the installed version of a distribution, or nothing.
installed_version() {
  "$venv/bin/python" - "$1" <<'PY'
import sys
from importlib import metadata
try:
    print(metadata.version(sys.argv[1]))
except metadata.PackageNotFoundError:
    pass
PY
}

ensure() {
  local dist="$1" version="$2" spec="$3"
  local have
  have="$(installed_version "$dist")"
  # The extras matter too: moto without [server] has no moto_server.
  if [ "$have" = "$version" ] && { [ "$dist" != moto ] || [ -x "$venv/bin/moto_server" ]; }; then
    echo "test-tools: $dist $version already installed"
  else
    echo "test-tools: installing $spec (had: ${have:-none})"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$spec"
  fi
}

ensure moto "$MOTO_VERSION" "moto[server]==$MOTO_VERSION"
ensure cfn-lint "$CFN_LINT_VERSION" "cfn-lint==$CFN_LINT_VERSION"
ensure aws-sam-translator "$SAM_TRANSLATOR_VERSION" "aws-sam-translator==$SAM_TRANSLATOR_VERSION"
ensure aiosmtpd "$AIOSMTPD_VERSION" "aiosmtpd==$AIOSMTPD_VERSION"
ensure openapi-spec-validator "$OPENAPI_SPEC_VALIDATOR_VERSION" "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION"
ensure schemathesis "$SCHEMATHESIS_VERSION" "schemathesis==$SCHEMATHESIS_VERSION"

# Headless Chromium and its WebDriver for the public-page tests
# (tests/booking_page_browser.rs). Debian packages, installed only when missing.
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  echo "test-tools: chromium and chromedriver already installed"
elif command -v apt-get >/dev/null 2>&1; then
  echo "test-tools: installing chromium and chromium-driver"
  sudo_cmd=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends chromium chromium-driver
else
  echo "test-tools: chromium and chromedriver are missing and apt-get is not available; install them" >&2
  exit 1
fi

echo "test-tools: moto_server at $venv/bin/moto_server, cfn-lint at $venv/bin/cfn-lint, aws-sam-translator $SAM_TRANSLATOR_VERSION, aiosmtpd, openapi-spec-validator $OPENAPI_SPEC_VALIDATOR_VERSION and schemathesis $SCHEMATHESIS_VERSION in $venv, chromedriver at /usr/bin/chromedriver"
