#!/usr/bin/env python3
"""Init time and memory of Lambda `bootstrap` binaries, side by side, in one run.

Each function runs against a stub of the Lambda Runtime API on 127.0.0.1 and
the AWS emulator (moto, `--endpoint`), where this script first creates what
the stack would: the table (schema read from template.yaml), both queues, the
token key, the bucket and every integration's secret (placeholders). So the
init phase does everything a deployed one does, Secrets Manager reads of the
declared secrets included, and warm invocations do real store and queue work.

- init: time from spawning the process to its first
  `GET /2018-06-01/runtime/invocation/next`; `--runs` cold starts per
  function, the functions interleaved round by round so load changes on the
  machine hit them alike; median, min, max.
- first invocation: in that same process, the time from handing it the
  first event to its answer (what init left for later, the first
  connection's trust roots among them, shows here).
- memory: one process serves `--invocations` warm invocations of the
  function's sample event (`events/<name>.json`; `hello` echoes `{}`), then
  its peak resident set (`VmHWM` in /proc) is read, and what is resident
  then is split (`/proc/<pid>/smaps`): pages of the binary itself, other
  file pages (the C library, the loader), anonymous memory (heap, stacks,
  relocated data).

    infra/bench/lambda_bench.py --endpoint http://127.0.0.1:PORT \\
        --dir /var/tmp/konnecs-lambda/x86-64 hello health jobs-worker bulk-worker reminders-tick

A name `<function>@<variant>` runs `<dir>/<function>@<variant>/bootstrap` as
that function (its sample event and name), to set two builds side by side.

Needs boto3 and PyYAML (in the project venv with moto). Linux only (/proc).
"""

import argparse
import http.server
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
import uuid

import boto3
import yaml

NEXT = "/2018-06-01/runtime/invocation/next"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# Each integration's secret: its name, the environment variable that names its
# ARN and its fields (`Integration` in shared/src/ports/secrets.rs).
INTEGRATION_SECRETS = [
    ("resend", "RESEND_SECRET_ARN", ["api_key"]),
    ("twilio", "TWILIO_SECRET_ARN", ["account_sid", "auth_token", "from"]),
    ("stripe", "STRIPE_SECRET_ARN", ["secret_key", "webhook_signing_secret"]),
    ("google", "GOOGLE_SECRET_ARN", ["client_id", "client_secret"]),
]


def aws_resources(endpoint):
    """What the root stack creates, on the emulator; returns the functions' env."""
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    client = lambda service: session.client(service, endpoint_url=endpoint)  # noqa: E731
    suffix = uuid.uuid4().hex[:8]
    with open(os.path.join(REPO, "template.yaml")) as handle:
        table = yaml.safe_load(handle)["Resources"]["Table"]["Properties"]
    table_name = f"bench-table-{suffix}"
    client("dynamodb").create_table(
        TableName=table_name,
        AttributeDefinitions=table["AttributeDefinitions"],
        KeySchema=table["KeySchema"],
        GlobalSecondaryIndexes=table["GlobalSecondaryIndexes"],
        BillingMode="PAY_PER_REQUEST",
    )
    sqs = client("sqs")
    jobs = sqs.create_queue(QueueName=f"bench-jobs-{suffix}")["QueueUrl"]
    bulk = sqs.create_queue(QueueName=f"bench-bulk-{suffix}")["QueueUrl"]
    reminders = sqs.create_queue(QueueName=f"bench-reminders-{suffix}")["QueueUrl"]
    key = client("kms").create_key(Description="bench token key")["KeyMetadata"]["KeyId"]
    bucket = f"bench-objects-{suffix}"
    client("s3").create_bucket(Bucket=bucket)
    secrets = client("secretsmanager")
    # One per integration, holding the stack's placeholder (every field empty).
    arns = {
        env: secrets.create_secret(
            Name=f"bench/{suffix}/{name}", SecretString=json.dumps(dict.fromkeys(fields, ""))
        )["ARN"]
        for name, env, fields in INTEGRATION_SECRETS
    }
    return {
        "TABLE_NAME": table_name,
        "JOBS_QUEUE_URL": jobs,
        "BULK_QUEUE_URL": bulk,
        "REMINDERS_QUEUE_URL": reminders,
        "TOKEN_KEY_ID": key,
        "OBJECTS_BUCKET": bucket,
        **arns,
        "KONNECS_PUBLIC_URL": "https://app.konnecs.example",
        "KONNECS_LOG": "info",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


class Runtime:
    """A stub Runtime API serving queued events, one at a time."""

    def __init__(self):
        self.events = queue.Queue()
        self.answers = queue.Queue()
        self.first_poll = threading.Event()
        self.first_poll_at = None
        self.stop = threading.Event()
        runtime = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if self.path != NEXT:
                    self.send_error(404)
                    return
                if not runtime.first_poll.is_set():
                    runtime.first_poll_at = time.perf_counter_ns()
                    runtime.first_poll.set()
                while not runtime.stop.is_set():
                    try:
                        request_id, body = runtime.events.get(timeout=0.2)
                    except queue.Empty:
                        continue
                    payload = json.dumps(body).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                    self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 15000))
                    self.send_header(
                        "Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:bench",
                    )
                    self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.close_connection = True

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                kind = "error" if self.path.endswith("/error") else "response"
                runtime.answers.put((kind, self.path, body))

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self):
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def function_of(name):
    """`health@noflags` is `health` built another way (its binary in
    `<dir>/health@noflags/`), for comparing builds in one run."""
    return name.split("@", 1)[0]


def spawn(binary, name, runtime, env):
    full = {
        "AWS_LAMBDA_RUNTIME_API": runtime.address,
        "AWS_LAMBDA_FUNCTION_NAME": function_of(name),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/konnecs/bench",
        "AWS_REGION": "us-east-1",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    full.update(env)
    return subprocess.Popen([binary], env=full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def cold_start(binary, name, env, timeout):
    runtime = Runtime()
    start = time.perf_counter_ns()
    process = spawn(binary, name, runtime, env)
    try:
        if not runtime.first_poll.wait(timeout):
            process.kill()
            _, err = process.communicate()
            sys.exit(f"{name} never polled; stderr:\n{err.decode(errors='replace')}")
        return (runtime.first_poll_at - start) / 1e6
    finally:
        process.kill()
        process.wait()
        runtime.close()


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def resident_kib(pid, binary):
    """Resident KiB now: (the binary's file pages, other file pages, anonymous).

    A file mapping's copied-on-write pages (relocated data) count as anonymous.
    """
    own = other = anon = 0
    path = None
    rss = 0
    binary = os.path.realpath(binary)
    with open(f"/proc/{pid}/smaps") as handle:
        for line in handle:
            fields = line.split()
            if not fields:
                continue
            if "-" in fields[0] and not fields[0].endswith(":"):
                path = fields[5] if len(fields) > 5 else None
            elif fields[0] == "Rss:":
                rss = int(fields[1])
            elif fields[0] == "Anonymous:":
                private = int(fields[1])
                anon += private
                if path == binary:
                    own += rss - private
                elif path and path.startswith("/"):
                    other += rss - private
    return own, other, anon


def warm(binary, name, env, invocations, timeout):
    path = os.path.join(REPO, "events", f"{function_of(name)}.json")
    event = {}
    if os.path.exists(path):
        with open(path) as handle:
            event = json.load(handle)
    runtime = Runtime()
    process = spawn(binary, name, runtime, env)
    errors = 0
    try:
        if not runtime.first_poll.wait(timeout):
            sys.exit(f"{name} never polled")
        after_init = peak_rss_kib(process.pid)
        first = None
        for _ in range(invocations):
            sent = time.perf_counter_ns()
            runtime.events.put((str(uuid.uuid4()), event))
            kind, _, body = runtime.answers.get(timeout=timeout)
            if first is None:
                first = (time.perf_counter_ns() - sent) / 1e6
            if kind == "error":
                errors += 1
                if errors == 1:
                    print(f"  {name}: invocation error {body[:300]!r}", file=sys.stderr)
        return after_init, peak_rss_kib(process.pid), errors, first, resident_kib(process.pid, binary)
    finally:
        process.kill()
        _, err = process.communicate()
        runtime.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", required=True, help="the moto server, e.g. http://127.0.0.1:5000")
    parser.add_argument("--dir", required=True, help="folder with <name>/bootstrap for every function")
    parser.add_argument("--runs", type=int, default=31)
    parser.add_argument("--invocations", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("functions", nargs="+")
    args = parser.parse_args()
    env = aws_resources(args.endpoint)
    binaries = {name: os.path.join(args.dir, name, "bootstrap") for name in args.functions}

    for name, binary in binaries.items():  # page cache warm: we time start, not disk reads
        cold_start(binary, name, env, args.timeout)
    times = {name: [] for name in binaries}
    for _ in range(args.runs):
        for name, binary in binaries.items():
            times[name].append(cold_start(binary, name, env, args.timeout))
    memory = {name: warm(binary, name, env, args.invocations, args.timeout) for name, binary in binaries.items()}

    base = args.functions[0]
    base_init = statistics.median(times[base])
    base_rss = memory[base][1]
    print(
        f"| function | init median | min | max | × {base} | first invocation | RSS after init "
        f"| peak RSS after {args.invocations} | × {base} | errors |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.functions:
        median = statistics.median(times[name])
        after_init, peak, errors, first, _ = memory[name]
        print(
            f"| `{name}` | {median:.2f} ms | {min(times[name]):.2f} ms | {max(times[name]):.2f} ms "
            f"| {median / base_init:.2f} | {first:.2f} ms | {after_init / 1024:.1f} MiB | {peak / 1024:.1f} MiB "
            f"| {peak / base_rss:.2f} | {errors} |"
        )
    print()
    print(f"Resident after {args.invocations} invocations:")
    print()
    print("| function | `bootstrap` size | its file pages | other file pages | anonymous |")
    print("|---|---:|---:|---:|---:|")
    for name in args.functions:
        own, other, anon = memory[name][4]
        size = os.path.getsize(binaries[name])
        print(
            f"| `{name}` | {size / 1048576:.1f} MiB | {own / 1024:.1f} MiB | {other / 1024:.1f} MiB "
            f"| {anon / 1024:.1f} MiB |"
        )


if __name__ == "__main__":
    main()
