#!/usr/bin/env bash
# Starts or stops a local moto server (DynamoDB/SQS/KMS emulator) for the
# AWS conformance tests.
#
#   infra/moto.sh start   # prints the endpoint URL (e.g. http://127.0.0.1:40123)
#   infra/moto.sh stop
#
# State (pid, port, log) lives in ${KONNECS_MOTO_DIR:-${TMPDIR:-/tmp}/konnecs-moto}.
# Run infra/test-tools.sh first.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${KONNECS_VENV:-$repo/.venv}"
state="${KONNECS_MOTO_DIR:-${TMPDIR:-/tmp}/konnecs-moto}"
pidfile="$state/moto.pid"
urlfile="$state/endpoint"

# moto_server, with one change: requests are handled one at a time. moto's
# DynamoDB checks a condition and writes without a lock, so concurrent
# conditional writes can both succeed on its threaded server, which AWS never
# allows. Connections stay concurrent (keep-alive); only the app is serialized.
# (Nothing here may block inside a request: the adapters never long-poll SQS.)
#
# It binds port 0 itself (the kernel picks a free port, nothing can take it
# between a pick and the bind) and writes the port it got to
# $KONNECS_MOTO_PORT_FILE once it is listening.
SERIAL_MOTO='
import os
import threading
import moto.server as server
from werkzeug.serving import make_server

lock = threading.Lock()

def serialized(app):
    def call(environ, start_response):
        with lock:
            return list(app(environ, start_response))
    return call

def serve(host, port, app, **kw):
    srv = make_server(
        host, port, serialized(app), threaded=kw.get("threaded", True),
        request_handler=kw.get("request_handler"), ssl_context=kw.get("ssl_context"),
    )
    port_file = os.environ["KONNECS_MOTO_PORT_FILE"]
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.port))
    os.replace(port_file + ".tmp", port_file)
    srv.serve_forever()

server.run_simple = serve
server.main()
'

running() {
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

start() {
  if running; then
    cat "$urlfile"
    return 0
  fi
  if [ ! -x "$venv/bin/moto_server" ]; then
    echo "moto.sh: $venv/bin/moto_server not found; run infra/test-tools.sh first" >&2
    exit 1
  fi
  mkdir -p "$state"
  local port url portfile="$state/port"
  rm -f "$portfile"
  KONNECS_MOTO_PORT_FILE="$portfile" "$venv/bin/python" -c "$SERIAL_MOTO" -H 127.0.0.1 -p 0 >"$state/moto.log" 2>&1 &
  echo $! >"$pidfile"
  # Ready in well under a second normally; give up after ~60 s.
  for _ in $(seq 1 600); do
    if [ -s "$portfile" ]; then
      port="$(cat "$portfile")"
      url="http://127.0.0.1:$port"
    fi
    if [ -n "${url:-}" ] && "$venv/bin/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" "$url/moto-api/" 2>/dev/null; then
      echo "$url" >"$urlfile"
      echo "$url"
      return 0
    fi
    if ! running; then
      break
    fi
    sleep 0.1
  done
  echo "moto.sh: moto_server did not answer (${url:-no port written}); log:" >&2
  cat "$state/moto.log" >&2 || true
  stop
  exit 1
}

stop() {
  if running; then
    local pid
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || true
    # moto can linger after SIGTERM while request threads finish; wait ~5 s, then force.
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "moto.sh: stopped" >&2
  fi
  rm -f "$pidfile" "$urlfile"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
