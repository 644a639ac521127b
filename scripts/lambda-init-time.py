#!/usr/bin/env python3
"""Init time of the Lambda functions: process start → first `GET /2018-06-01/runtime/invocation/next`.

That interval is what a cold start adds on top of Lambda's own work (download, unzip, sandbox): the loader
mapping the binary, the runtime reading its environment, the AWS SDK's config and clients being built.

Each binary is started `--runs` times with the environment Lambda gives a function (fake credentials, a
region, the settings the generated Terraform sets; nothing of this shell's environment) against a Runtime
API stand-in on a free loopback port that only records the time of the first `next` call; the process is
then killed. Runs of the binaries are interleaved (A B A B …), so a drift of the machine's speed hits all of
them alike: compare only figures of the same run.

    python3 scripts/lambda-init-time.py \
        --binary before authorizer /tmp/before/authorizer/bootstrap \
        --binary after  authorizer target/lambda/authorizer/bootstrap.zip

A PATH may be the bootstrap binary or a bootstrap.zip (its `bootstrap` entry is used). Nothing here
asserts a number; see docs/PERFORMANCE.md.
"""

import argparse
import http.server
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

NEXT = "/2018-06-01/runtime/invocation/next"

# The settings each function reads at init (names in sluice_contract::env), as the generated Terraform sets them.
SETTINGS = {
    "authorizer": {
        "SECRET_ID": "arn:aws:secretsmanager:us-east-1:123456789012:secret:sluice-credentials",
        "PREVIOUS_PASSWORD_GRACE_SECONDS": "3600",
    },
    "writer": {
        "TABLE_NAME": "sluice-EventTable",
        "PARTITION_KEY_NAME": "eventId",
        "PARTITION_KEY_TYPE": "S",
        "DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/sluice-dlq",
        "DEAD_LETTER_BUCKET": "sluice-dead-letters",
    },
}


class FirstNext:
    """The monotonic time of the first `next` call since the last reset."""

    def __init__(self):
        self.lock = threading.Lock()
        self.event = threading.Event()
        self.stop = threading.Event()
        self.at = None

    def reset(self):
        with self.lock:
            self.event.clear()
            self.at = None

    def record(self):
        now = time.monotonic()
        with self.lock:
            if self.at is None:
                self.at = now
                self.event.set()


def serve(first):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == NEXT:
                first.record()
                # No invocation is handed out: the call is held, as Lambda holds it between invocations,
                # until the process is killed.
                first.stop.wait()
                return
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def materialise(path, into):
    """A runnable bootstrap for PATH (a binary, or a zip holding `bootstrap`), and its size in bytes."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            data = z.read("bootstrap")
        out = os.path.join(into, "bootstrap")
        with open(out, "wb") as f:
            f.write(data)
        os.chmod(out, 0o755)
        return out, len(data)
    if not os.access(path, os.X_OK):
        sys.exit(f"error: {path} is neither a zip nor an executable file; build it with `cargo xtask build`")
    return os.path.abspath(path), os.path.getsize(path)


def lambda_env(function, api, task_root):
    env = {
        "AWS_LAMBDA_RUNTIME_API": api,
        "AWS_LAMBDA_FUNCTION_NAME": f"sluice-{function}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/sluice-{function}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "LAMBDA_TASK_ROOT": task_root,
        "HOME": task_root,
        "TZ": ":UTC",
    }
    env.update(SETTINGS[function])
    return env


def one_run(binary, env, first, cwd, timeout):
    first.reset()
    start = time.monotonic()
    proc = subprocess.Popen([binary], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = start + timeout
    while not first.event.wait(0.005):
        if (proc.poll() is not None and not first.event.is_set()) or time.monotonic() > deadline:
            proc.kill()
            err = proc.communicate()[1].decode(errors="replace").strip()
            sys.exit(f"error: {binary} did not call `next` within {timeout} s (exit {proc.returncode}): {err[-2000:]}")
    elapsed = first.at - start
    proc.kill()
    proc.communicate()
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", nargs=3, action="append", required=True,
                        metavar=("LABEL", "FUNCTION", "PATH"),
                        help="a bootstrap (binary or zip) to measure; FUNCTION is authorizer or writer")
    parser.add_argument("--runs", type=int, default=21, help="starts of each binary (default 21)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds a start may take (default 10)")
    args = parser.parse_args()
    if args.runs < 1:
        sys.exit("error: --runs must be at least 1")

    first = FirstNext()
    server = serve(first)
    api = f"127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory(prefix="sluice-init-") as tmp:
        entries = []
        for i, (label, function, path) in enumerate(args.binary):
            if function not in SETTINGS:
                sys.exit(f"error: unknown function {function!r} for {label}; use one of {', '.join(SETTINGS)}")
            if not os.path.exists(path):
                sys.exit(f"error: {path} does not exist; build it with `cargo xtask build`")
            root = os.path.join(tmp, str(i))
            os.mkdir(root)
            binary, size = materialise(path, root)
            entries.append((label, function, binary, size, lambda_env(function, api, root), root, []))
        # One unrecorded start each: the first start pays for the page cache.
        for _, _, binary, _, env, root, _ in entries:
            one_run(binary, env, first, root, args.timeout)
        for _ in range(args.runs):
            for _, _, binary, _, env, root, times in entries:
                times.append(one_run(binary, env, first, root, args.timeout))
    first.stop.set()
    server.shutdown()

    print(f"init time (start → first `next`), {args.runs} runs each, interleaved:")
    print(f"  {'label':<12} {'function':<11} {'binary':>10} {'median':>9} {'min':>9} {'max':>9}")
    for label, function, _, size, _, _, times in entries:
        ms = [t * 1000 for t in times]
        print(f"  {label:<12} {function:<11} {size / 2**20:>6.2f} MiB {statistics.median(ms):>6.2f} ms"
              f" {min(ms):>6.2f} ms {max(ms):>6.2f} ms")


if __name__ == "__main__":
    main()
