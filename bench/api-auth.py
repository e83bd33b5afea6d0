#!/usr/bin/env python3
"""What authentication costs a request: requests per second against one coordinator (no agents),
for the public /healthz (the baseline, measured in the same run), /v1/me (a key checked, then
cached), a key that is refused (401), and a listing of 50 videos (a store read). Keep-alive
connections from several client threads; prints each rate and its ratio to the baseline.

usage: bench/api-auth.py [SECONDS_PER_ENDPOINT] [THREADS]   (FARM_BIN_DIR: the binaries)
"""
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

BIN = os.environ.get("FARM_BIN_DIR", os.path.join(os.path.dirname(__file__), "..", ".build", "release"))
SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
THREADS = int(sys.argv[2]) if len(sys.argv) > 2 else 4


def rate(port, path, headers, expect):
    counts = [0] * THREADS
    deadline = time.time() + SECONDS

    def worker(index):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.time() < deadline:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != expect:
                raise SystemExit(f"{path}: HTTP {response.status}, expected {expect}")
            counts[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.time() - started)


def main():
    work = tempfile.mkdtemp(prefix="farm-bench-api-")
    ready = os.path.join(work, "ready.json")
    log = open(os.path.join(work, "coordinator.log"), "w")
    coordinator = subprocess.Popen(
        [os.path.join(BIN, "farm-coordinator"), "--data-dir", os.path.join(work, "data"), "--http", "127.0.0.1:0",
         "--zmq", "tcp://127.0.0.1:*", "--ready-file", ready, "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(600):
            if os.path.exists(ready):
                break
            time.sleep(0.05)
        port = int(json.load(open(ready))["http"].rsplit(":", 1)[1])
        key = open(os.path.join(work, "data", "keys", "admin.key")).read().strip()
        auth = {"Authorization": "Bearer " + key}
        script = "from manim import *\nclass S(Scene):\n    def construct(self):\n        self.wait(1)\n"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        # Room for the 50 submissions below (the default is 30 a minute).
        quotas = {"submissionsPerMinute": 1000, "concurrentVideos": 1000, "renderSecondsPerDay": 86400, "storageBytes": 1 << 30}
        connection.request("PATCH", "/v1/teams/default", body=json.dumps({"quotas": quotas}),
                           headers={**auth, "Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"raising the quotas: HTTP {response.status}")
        for index in range(50):
            body = json.dumps({"script": script + f"# {index}\n", "quality": "low"})
            connection.request("POST", "/v1/videos", body=body, headers={**auth, "Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status != 201:
                raise SystemExit(f"submitting: HTTP {response.status}")
        bad = {"Authorization": "Bearer mf_000000000000_" + "0" * 64}
        baseline = rate(port, "/healthz", {}, 200)
        rows = [("GET /healthz (no key, baseline)", baseline),
                ("GET /v1/me (key checked, cached)", rate(port, "/v1/me", auth, 200)),
                ("GET /v1/me (unknown key, 401)", rate(port, "/v1/me", bad, 401)),
                ("GET /v1/videos (50 rows, a store read)", rate(port, "/v1/videos", auth, 200))]
        print(f"{THREADS} client threads, {SECONDS:.0f} s each, keep-alive")
        for name, value in rows:
            print(f"{name:42s} {value:9.0f} req/s   {value / baseline:5.2f}x baseline")
    finally:
        coordinator.terminate()
        coordinator.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
