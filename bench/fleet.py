#!/usr/bin/env python3
"""Benchmark 2: the coordinator with a simulated fleet.

Starts a real `farm-coordinator` (embedded SQLite) and N `farm-agent`
processes whose renderer only sleeps (`--simulate-render`: one second of
sleep per second of video, then blank 144p frames that are really encoded,
uploaded and packaged). Submits one video of many scenes made of
`self.wait(...)` calls, waits for it, and reads the coordinator's attempt
history to print:

  makespan      first render assignment -> last render finished, against the
                ideal bound max(total work / agents, longest task)
  dispatch      assignments per second in the first wave (the largest dispatch
                round: choosing, persisting and sending one task per agent)
  latency       submit -> first assignment: the POST returns once the plan
                task is durable and sent to an agent; and submit -> first render

A small warm-up video first teaches the coordinator the fleet's render speed,
as render history does in production; without it nothing looks long enough to
split.

    bench/fleet.py [AGENTS ...] [--runs N] [--work-per-agent SECONDS]
    (default: 50 200, 3 runs, 30 s of work per agent)
"""

import argparse
import datetime
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("FARM_BIN_DIR", os.path.join(HERE, ".build", "debug"))


def script_for(agents, work_per_agent, seed):
    """Scenes of 1-4 s waits, 6-30 s each, totalling work_per_agent * agents seconds."""
    rng = random.Random(seed)
    total, scenes = 0.0, []
    while total < work_per_agent * agents:
        length = rng.uniform(6, 30)
        waits, scene_total = [], 0.0
        while scene_total < length:
            wait = round(rng.uniform(1, 4), 1)
            waits.append(wait)
            scene_total += wait
        scenes.append(waits)
        total += scene_total
    lines = ["from manim import *", ""]
    for index, waits in enumerate(scenes):
        lines += [f"class S{index:04d}(Scene):", "    def construct(self):"] + [f"        self.wait({w})" for w in waits] + [""]
    return "\n".join(lines), scenes


API_KEY = None  # the coordinator's first admin, read once it has started


def authorized(headers=None):
    headers = dict(headers or {})
    if API_KEY:
        headers["authorization"] = "Bearer " + API_KEY
    return headers


def get(url):
    with urllib.request.urlopen(urllib.request.Request(url, headers=authorized()), timeout=30) as response:
        return json.load(response)


def post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=authorized({"content-type": "application/json"}))
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.load(response)


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace(" ", "T")).timestamp()


def run_once(agents, work_per_agent, seed, keep_logs):
    work = tempfile.mkdtemp(prefix="farm-fleet-")
    ready = os.path.join(work, "ready.json")
    log = open(os.path.join(work, "coordinator.log"), "w")
    coordinator = subprocess.Popen(
        [os.path.join(BIN, "farm-coordinator"), "--data-dir", os.path.join(work, "coordinator"),
         "--zmq", "tcp://127.0.0.1:*", "--http", "127.0.0.1:0", "--ready-file", ready, "--log-level", "notice"],
        stdout=log, stderr=subprocess.STDOUT)
    fleet = []
    try:
        for _ in range(300):
            if os.path.exists(ready) and os.path.getsize(ready) > 0:
                break
            time.sleep(0.1)
        info = json.load(open(ready))
        http = info["http"]
        zmq = info["zmq"].split(",")[0]
        agent_log = open(os.path.join(work, "agents.log"), "w")
        for index in range(agents):
            fleet.append(subprocess.Popen(
                [os.path.join(BIN, "farm-agent"), "--coordinator", zmq, "--id", f"sim-{index:03d}", "--slots", "1",
                 "--latex", "no", "--no-warm-workers", "--simulate-render", "1", "--log-level", "warning",
                 "--work-dir", os.path.join(work, "agents", str(index)),
                 "--enroll", os.path.join(work, "coordinator", "keys"),
                 "--key-file", os.path.join(work, "agents", f"{index}.key")],
                stdout=agent_log, stderr=subprocess.STDOUT))
        global API_KEY
        with open(os.path.join(work, "coordinator", "keys", "admin.key")) as key_file:
            API_KEY = key_file.read().strip()
        deadline = time.time() + 180
        while len(get(http + "/v1/agents")) < agents:
            if time.time() > deadline:
                raise SystemExit("the fleet did not register")
            time.sleep(0.5)

        def render(script):
            started = time.time()
            video = post(http + "/v1/videos", {"script": script, "scriptName": "fleet.py", "quality": "low",
                                               "ladder": [144], "cache": False, "seed": seed})
            answered = time.time()
            while True:
                status = get(f"{http}/v1/videos/{video['id']}")
                if status["state"] in ("done", "failed", "cancelled"):
                    break
                time.sleep(0.25)
            if status["state"] != "done":
                raise SystemExit(f"video {status['state']}: {status.get('error')}")
            return video, status, answered - started, time.time() - started

        render("from manim import *\n\nclass WarmUp(Scene):\n    def construct(self):\n        self.wait(3)\n")
        before = get(http + "/v1/stats")
        script, scenes = script_for(agents, work_per_agent, seed)
        video, status, submit_latency, end_to_end = render(script)
        after = get(http + "/v1/stats")

        db = sqlite3.connect(os.path.join(work, "coordinator", "farm.sqlite"))
        created = parse_time(db.execute("SELECT createdAt FROM videos WHERE id = ?", (video["id"],)).fetchone()[0])
        rows = db.execute(
            "SELECT a.taskID, a.startedAt, a.endedAt, json_extract(t.work, '$.kind') FROM attempts a "
            "JOIN tasks t ON t.id = a.taskID WHERE t.videoID = ? AND a.outcome = 'done'", (video["id"],)).fetchall()
        plan = [r for r in rows if r[3] == "plan"]
        renders = sorted((parse_time(r[1]), parse_time(r[2])) for r in rows if r[3] == "render")
        pieces = status["scenes"]
        total_work = sum(sum(waits) for waits in scenes)

        def piece_seconds(piece):
            waits = scenes[int(piece["name"][1:])]
            span = piece.get("animations") or {"first": 0, "last": len(waits) - 1}
            return sum(waits[span["first"]:span["last"] + 1])

        longest = max(map(piece_seconds, pieces))
        ideal = max(total_work / agents, longest)
        makespan = max(end for _, end in renders) - renders[0][0]
        dispatch_rate = after["largestDispatchRound"] / max(after["largestDispatchRoundSeconds"], 1e-6)
        wave = after["largestDispatchRound"]
        return {
            "agents": agents, "wave": wave, "tasks": len(renders), "scenes": len(scenes), "work": total_work, "ideal": ideal,
            "makespan": makespan, "ratio": makespan / ideal, "dispatchRate": dispatch_rate,
            "firstAssignment": submit_latency, "firstRender": renders[0][0] - created, "endToEnd": end_to_end,
        }
    finally:
        for process in fleet:
            process.send_signal(signal.SIGKILL)
        coordinator.send_signal(signal.SIGKILL)
        for process in fleet + [coordinator]:
            process.wait()
        if not keep_logs:
            subprocess.run(["rm", "-rf", work])
        else:
            print(f"  logs: {work}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("agents", nargs="*", type=int, default=[50, 200])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work-per-agent", type=float, default=30)
    parser.add_argument("--keep-logs", action="store_true")
    options = parser.parse_args()
    for agents in options.agents:
        results = []
        for run in range(options.runs):
            result = run_once(agents, options.work_per_agent, seed=run + 1, keep_logs=options.keep_logs)
            results.append(result)
            print(f"{agents} agents, run {run + 1}: {result['tasks']} tasks from {result['scenes']} scenes, "
                  f"makespan {result['makespan']:.1f} s vs ideal {result['ideal']:.1f} s ({result['ratio']:.3f}x), "
                  f"dispatch {result['dispatchRate']:.0f}/s ({result['wave']} in the first wave), submit->first assignment {result['firstAssignment'] * 1000:.0f} ms, "
                  f"submit->first render {result['firstRender']:.2f} s, end to end {result['endToEnd']:.1f} s", flush=True)
        median = lambda key: statistics.median(r[key] for r in results)  # noqa: E731
        print(f"{agents} agents, median of {len(results)}: makespan/ideal {median('ratio'):.3f}, "
              f"dispatch {median('dispatchRate'):.0f} assignments/s, submit->first assignment "
              f"{median('firstAssignment') * 1000:.0f} ms, submit->first render {median('firstRender'):.2f} s", flush=True)


if __name__ == "__main__":
    main()
