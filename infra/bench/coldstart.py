#!/usr/bin/env python3
"""Cold-start init time of a Lambda `bootstrap`, measured locally.

A stub of the Lambda Runtime API on 127.0.0.1 records when the process first
asks for `GET /2018-06-01/runtime/invocation/next`: everything before that is
the function's init phase (runtime set-up, configuration, SDK clients). The
time is taken from just before the process is spawned to that request.

    infra/bench/coldstart.py --runs 15 [--env NAME=VALUE ...] -- path/to/bootstrap

Prints one line per run and the median, in milliseconds. Standard library only.
"""

import argparse
import http.server
import os
import statistics
import subprocess
import sys
import threading
import time

NEXT = "/2018-06-01/runtime/invocation/next"


def one_run(binary, extra_env, timeout):
    asked = threading.Event()
    release = threading.Event()
    stamp = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == NEXT and not asked.is_set():
                stamp["next"] = time.perf_counter_ns()
                asked.set()
            # Never answer: the run ends here, and an unanswered poll keeps the
            # function from doing anything that would disturb the next run.
            release.wait(timeout)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        # What the Lambda service sets; lambda_runtime requires these.
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": os.path.basename(os.path.dirname(os.path.abspath(binary))) or "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
        "AWS_REGION": "us-east-1",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    env.update(extra_env)
    start = time.perf_counter_ns()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not asked.wait(timeout):
            process.kill()
            _, err = process.communicate()
            sys.exit(f"coldstart: {binary} never polled for an invocation; stderr:\n{err.decode(errors='replace')}")
        return (stamp["next"] - start) / 1e6
    finally:
        process.kill()
        process.wait()
        release.set()
        server.shutdown()
        server.server_close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for the first poll")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("binary")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    one_run(args.binary, extra, args.timeout)  # warm the page cache: we time process start, not disk reads
    times = [one_run(args.binary, extra, args.timeout) for _ in range(args.runs)]
    for i, ms in enumerate(times, 1):
        print(f"run {i:2}: {ms:7.2f} ms")
    print(
        f"{args.binary}: median {statistics.median(times):.2f} ms, "
        f"min {min(times):.2f} ms, max {max(times):.2f} ms over {len(times)} runs"
    )


if __name__ == "__main__":
    main()
