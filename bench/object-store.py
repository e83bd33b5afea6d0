#!/usr/bin/env python3
"""Object storage, end to end: a five-scene 1080p60 script (bench/five-scenes.py) on two local agents,
published to an S3-compatible store (moto in server mode) and, as the baseline in the same run, to the
data folder. Prints:

- time to the first playable segment (the first segment listed in the top rung's EVENT playlist), in the
  object store and in the data folder, against the time the whole video takes (when it would first be
  watchable without growing playlists);
- media bytes by path: segments the agents put in the store themselves, bytes through the coordinator
  (uploads that fell back to ZeroMQ, segments moved on the timeline), and the MP4's read-back.

usage: bench/object-store.py [RUNS]   (FARM_BIN_DIR: the binaries; FARM_PYTHON: the venv's python)
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIN = os.environ.get("FARM_BIN_DIR", os.path.join(ROOT, ".build", "release"))
PYTHON = os.environ.get("FARM_PYTHON", os.path.join(ROOT, ".venv", "bin", "python"))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 1
SCRIPT = os.path.join(HERE, "five-scenes.py")
AWS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def request(url, key, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.load(response)


def run(storage_args, env, s3=None):
    """Submits the script to a fresh farm; returns (time to first segment or None, time to done, stats)."""
    work = tempfile.mkdtemp(prefix="farm-bench-store-")
    data = os.path.join(work, "data")
    ready = os.path.join(work, "ready.json")
    processes = []
    try:
        log = open(os.path.join(work, "coordinator.log"), "w")
        processes.append(subprocess.Popen(
            [os.path.join(BIN, "farm-coordinator"), "--data-dir", data, "--http", "127.0.0.1:0", "--zmq", "tcp://127.0.0.1:*",
             "--ready-file", ready, "--python", PYTHON, "--log-level", "warning", "--no-render-cache"] + storage_args,
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **env}))
        wait_for(lambda: os.path.exists(ready), 60, "the coordinator")
        endpoints = json.load(open(ready))
        http = endpoints["http"]
        for index in range(2):
            processes.append(subprocess.Popen(
                [os.path.join(BIN, "farm-agent"), "--coordinator", endpoints["zmq"], "--id", f"agent-{index}", "--python", PYTHON,
                 "--work-dir", os.path.join(work, f"agent-{index}"), "--enroll", os.path.join(data, "keys"),
                 "--key-file", os.path.join(work, f"agent-{index}.key")],
                stdout=open(os.path.join(work, f"agent-{index}.log"), "w"), stderr=subprocess.STDOUT))
        key = open(os.path.join(data, "keys", "admin.key")).read().strip()
        wait_for(lambda: len(request(http + "/v1/agents", key)) >= 2, 60, "two agents")
        script = open(SCRIPT).read()
        started = time.time()
        video = request(http + "/v1/videos", key, "POST", {"script": script, "scriptName": "five-scenes.py", "quality": "high"})
        first = None
        while True:
            status = request(http + f"/v1/videos/{video['id']}", key)
            if first is None:
                try:
                    if s3 is not None:
                        playlist = s3.get_object(Bucket="bench", Key=f"published/{video['id']}/1080p/index.m3u8")["Body"].read().decode()
                    else:
                        playlist = open(os.path.join(data, "published", video["id"], "1080p", "index.m3u8")).read()
                    if ".m4s" in playlist:
                        first = time.time() - started
                except Exception:
                    pass
            if status["state"] in ("done", "failed", "cancelled"):
                break
            time.sleep(0.05)
        done = time.time() - started
        if status["state"] != "done":
            raise SystemExit(f"the video {status['state']}: {status.get('error')}")
        return first, done, request(http + "/v1/stats", key)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait()
        shutil.rmtree(work, ignore_errors=True)


def main():
    import boto3
    port = free_port()
    moto = subprocess.Popen([os.path.join(os.path.dirname(PYTHON), "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                          aws_secret_access_key="bench")
        wait_for(lambda: _reachable(endpoint), 30, "moto")
        s3.create_bucket(Bucket="bench")
        firsts, dones, locals_, local_firsts = [], [], [], []
        for index in range(RUNS):
            local_first, local_done, _ = run([], {})
            first, done, stats = run(["--storage", "s3://bench/published", "--s3-endpoint", endpoint, "--s3-path-style"], AWS, s3)
            traffic = stats.get("objectStore") or {}
            agent, through, mp4 = traffic.get("agentBytes", 0), traffic.get("coordinatorBytes", 0), traffic.get("mp4Bytes", 0)
            print(f"run {index + 1}: data folder: first segment {local_first:.1f} s, done {local_done:.1f} s | object store: first segment {first:.1f} s, done {done:.1f} s | "
                  f"segments by agents {agent:,} B, through the coordinator {through:,} B ({100 * through / max(agent, 1):.2f} %), "
                  f"MP4 read-back {mp4:,} B")
            firsts.append(first)
            dones.append(done)
            locals_.append(local_done)
            local_firsts.append(local_first)
        first, done, local_done = statistics.median(firsts), statistics.median(dones), statistics.median(locals_)
        local_first = statistics.median(local_firsts)
        print(f"time to first playable segment: object store {first:.1f} s, data folder {local_first:.1f} s; the whole video "
              f"(data folder): {local_done:.1f} s; ratios {first / local_done:.2f} and {local_first / local_done:.2f}")
        print(f"object-store video done: {done:.1f} s against the data folder's {local_done:.1f} s; ratio {done / local_done:.2f}")
    finally:
        moto.kill()
        moto.wait()


def _reachable(endpoint):
    try:
        urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
        return True
    except Exception:
        return False


if __name__ == "__main__":
    main()
