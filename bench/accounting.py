#!/usr/bin/env python3
"""Where the farm's time goes: one script rendered through the farm and by hand, stage by stage.

The baseline is what a user would otherwise run on the same machine (as `bench/farm-vs-manim.sh`):
`manim render` of every scene, then one ffmpeg command making the same three-rung HLS ladder. It is run
three ways to split it: `python -c "import manim"` (start-up), `manim render --dry_run` (start-up, the
scripts, LaTeX and drawing, no encoding) and the full render (the difference is Manim's own encode).

The farm is `farm up` with local agents and JSON logs. Each agent reports, for every attempt, where its
time went (`RenderStages`: launch, start-up to the first frame, waiting for frames, RGBA to YUV, each
rung's scale and encode, uploads, finishing) and the script's process its own part (set-up, LaTeX,
skipping, cairo drawing, the frame pipe, and its CPU). The coordinator's and the agents' CPU comes from
/proc. Manim's is what each render's process reports (the warm fork server's reaped children undercount:
a sandboxed task runs in a PID namespace of its own); planning passes are counted in wall time only.

Printed: CPU by stage, in total and per frame, beside the baseline's; each agent slot's wall time from
submission to the video's end, busy by stage and idle by reason; and the ratio farm / baseline.

    bench/accounting.py [script.py] [--quality high] [--agents 2]
"""

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("FARM_BIN_DIR", os.path.join(HERE, ".build", "debug"))
VENV = os.environ.get("FARM_VENV", os.path.join(HERE, ".venv"))
QUALITY = {"low": ("l", 480, 15), "medium": ("m", 720, 30), "high": ("h", 1080, 60)}
TICKS = os.sysconf("SC_CLK_TCK")


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command, **kwargs):
    """Runs a command; returns (wall seconds, CPU seconds of it and its children)."""
    cpu, wall = children_cpu(), time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - wall, children_cpu() - cpu


def ladder_heights(height):
    return [height] + [h for h in (720, 480, 360, 240) if h < height][:2]


def baseline(script, scenes, quality, work):
    flag, height, fps = QUALITY[quality]
    manim = os.path.join(VENV, "bin", "manim")
    python = os.path.join(VENV, "bin", "python")
    media = os.path.join(work, "media")
    os.makedirs(work, exist_ok=True)
    common = [manim, "render", f"-q{flag}", "--disable_caching", "--silent", "--progress_bar", "none"]
    split = {}
    split["startup"] = timed([python, "-c", "import manim"])
    split["dry"] = timed(common + ["--dry_run", "--media_dir", os.path.join(work, "dry"), script] + scenes)
    split["manim"] = timed(common + ["--media_dir", media, script] + scenes)
    folder = os.path.join(media, "videos", os.path.splitext(os.path.basename(script))[0], f"{height}p{fps}")
    listing = os.path.join(work, "list.txt")
    with open(listing, "w") as out:
        for scene in scenes:
            out.write(f"file '{os.path.join(folder, scene + '.mp4')}'\n")
    rungs = ladder_heights(height)
    graph = f"[0:v]split={len(rungs)}" + "".join(f"[v{i}]" for i in range(len(rungs))) + ";" + ";".join(
        f"[v{i}]scale=-2:{h}[o{i}]" for i, h in enumerate(rungs))
    command = ["ffmpeg", "-v", "error", "-f", "concat", "-safe", "0", "-i", listing, "-filter_complex", graph]
    for i in range(len(rungs)):
        command += ["-map", f"[o{i}]", f"-c:v:{i}", "libx264", "-preset", "veryfast", "-crf", "23", "-threads", "1",
                    "-bf", "0", "-g", str(2 * fps), "-keyint_min", str(2 * fps), "-sc_threshold", "0", "-flags", "+cgop"]
    command += ["-f", "hls", "-hls_time", "6", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
                "-master_pl_name", "master.m3u8", "-var_stream_map", " ".join(f"v:{i}" for i in range(len(rungs))),
                os.path.join(work, "out_%v.m3u8")]
    split["ladder"] = timed(command)
    return split


def proc_cpu(pid, children=False):
    """CPU seconds of a process (and of the children it reaped), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
    return ticks / TICKS


def farm_processes(data):
    """pid of the coordinator and of each agent, and the agents' warm fork servers, by their command lines."""
    found = {"coordinator": None, "agents": {}, "servers": []}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmd:
                argv = cmd.read().split(b"\0")
        except OSError:
            continue
        text = b" ".join(argv).decode(errors="replace")
        if "farm-coordinator" in text and data in text:
            found["coordinator"] = int(entry)
        elif "farm-agent" in argv[0].decode(errors="replace") and data in text:
            found["agents"][int(entry)] = text
        elif text.endswith("farm_shim.py serve ") or text.endswith("farm_shim.py serve"):
            found["servers"].append(int(entry))
    return found


def cpu_snapshot(processes):
    return {
        "coordinator": proc_cpu(processes["coordinator"]),
        "agents": sum(proc_cpu(pid) for pid in processes["agents"]),
    }


def start_farm(work, agents, port):
    data = os.path.join(work, "farm")
    env = dict(os.environ, FARM_LOG_FORMAT="json")
    log = open(os.path.join(work, "farm.log"), "w")
    farm = subprocess.Popen(
        [os.path.join(BIN, "farm"), "up", "--agents", str(agents), "--data-dir", data, "--http", f"127.0.0.1:{port}",
         "--zmq", f"tcp://127.0.0.1:{port + 1}", "--python", os.path.join(VENV, "bin", "python"), "--log-level", "info"]
        + os.environ.get("FARM_BENCH_UP_ARGS", "").split(),
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            break
        except OSError:
            time.sleep(0.2)
    else:
        raise SystemExit("the farm did not start; see " + log.name)
    # Every agent registered with its warm fork server up, before the clock starts.
    deadline = time.time() + 120
    while time.time() < deadline:
        processes = farm_processes(data)
        if len(processes["agents"]) == agents and len(processes["servers"]) >= agents and agents_ready(port, data, agents):
            return farm, data, processes
        time.sleep(0.2)
    raise SystemExit("the agents did not register; see " + log.name)


def agents_ready(port, data, agents):
    key = open(os.path.join(data, "coordinator", "keys", "admin.key")).read().strip()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/agents", headers={"Authorization": f"Bearer {key}"})
    try:
        return len(json.load(urllib.request.urlopen(request, timeout=2))) >= agents
    except OSError:
        return False


def run_farm(script, quality, agents, work, port):
    farm, data, processes = start_farm(work, agents, port)
    try:
        before = cpu_snapshot(processes)
        key = "@" + os.path.join(data, "coordinator", "keys", "admin.key")
        submitted = time.time()
        subprocess.run([os.path.join(BIN, "farm"), "submit", script, "--quality", quality, "--no-cache", "--wait",
                        "--coordinator", f"http://127.0.0.1:{port}", "--api-key", key],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ended = time.time()
        after = cpu_snapshot(processes)
    finally:
        os.killpg(farm.pid, signal.SIGTERM)
        farm.wait(timeout=60)
    tasks = []
    with open(os.path.join(work, "farm.log")) as log:
        for line in log:
            if not line.startswith("{"):
                continue
            entry = json.loads(line)
            fields = entry.get("fields", {})
            if entry.get("message") in ("render done", "render failed") and "assignedAt" in fields:
                task = {"agent": entry.get("agent"), "kind": fields.get("kind"), "task": entry.get("task"),
                        "assigned": float(fields["assignedAt"]), "ended": float(fields["endedAt"]),
                        "frames": int(fields.get("frames", 0)), "failed": entry["message"] == "render failed"}
                if "stages" in fields:
                    task["stages"] = json.loads(fields["stages"])
                tasks.append(task)
    cpu = {name: after[name] - before[name] for name in after}
    renders = [t["stages"].get("manim") or {} for t in tasks if "stages" in t]
    cpu["manim"] = sum(m.get("cpu", 0) + m.get("latexCPU", 0) for m in renders)
    return submitted, ended, tasks, cpu


def row(label, seconds, frames, base=None, note=""):
    per = f"{1000 * seconds / frames:8.1f}" if frames else "       -"
    if base is None:
        return f"  {label:<40} {seconds:8.2f} {per}                   {note}"
    return f"  {label:<40} {seconds:8.2f} {per}   {base:8.2f} {1000 * base / frames:8.1f}  {note}"


def report(script, quality, agents, split, submitted, ended, tasks, cpu):
    renders = [t for t in tasks if "stages" in t]
    frames = sum(t["frames"] for t in renders)
    base_wall = split["manim"][0] + split["ladder"][0]
    farm_wall = ended - submitted
    manim_reported = [t["stages"].get("manim") or {} for t in renders]
    total = lambda key: sum(s.get(key, 0) for s in (t["stages"] for t in renders))
    manim_total = lambda key: sum(m.get(key, 0) for m in manim_reported)
    rungs = max((len(t["stages"]["encodeCPU"]) for t in renders), default=0)
    heights = ladder_heights(QUALITY[quality][1])

    print(f"script {os.path.basename(script)}, {quality} ({'/'.join(map(str, heights))}), {agents} agents, "
          f"{frames} frames in {len(renders)} render tasks and {len(tasks) - len(renders)} others")
    print(f"wall: farm {farm_wall:.1f} s, baseline {base_wall:.1f} s (manim {split['manim'][0]:.1f} + ladder "
          f"{split['ladder'][0]:.1f}); ratio farm/baseline {farm_wall / base_wall:.3f}")
    farm_cpu = sum(cpu.values())
    base_cpu = split["manim"][1] + split["ladder"][1]
    print(f"CPU:  farm {farm_cpu:.1f} s (planning passes not counted), baseline {base_cpu:.1f} s; the farm's CPU over "
          f"{os.cpu_count()} cores takes at least {farm_cpu / os.cpu_count():.1f} s ({farm_cpu / os.cpu_count() / base_wall:.3f} "
          "of the baseline)")
    print()
    print(f"  {'CPU by stage':<40} {'farm s':>8} {'ms/frame':>8}   {'base s':>8} {'ms/frame':>8}")
    draw = manim_total("drawCPU")
    latex = manim_total("latexCPU")
    print(row("Manim: cairo drawing", draw, frames))
    print(row("Manim: LaTeX (compilers)", latex, frames))
    print(row("Manim: the rest (set-up, skipping,", cpu["manim"] - draw - latex, frames,
              split["dry"][1], "baseline: dry run (start-up, scripts, LaTeX, drawing)"))
    print(f"  {'  animation steps, handing frames over)':<40}")
    print(row("Manim's own H.264 encode", 0, frames, split["manim"][1] - split["dry"][1], "baseline: full - dry run"))
    print(row("agent: RGBA -> YUV 4:2:0", total("convertCPU"), frames))
    for index in range(rungs):
        label = f"{heights[index]}p" if index < len(heights) else f"rung {index}"
        print(row(f"agent: scale to {label}", sum(t["stages"]["scaleCPU"][index] for t in renders), frames))
        print(row(f"agent: x264 + mux {label}", sum(t["stages"]["encodeCPU"][index] for t in renders), frames))
    measured = total("convertCPU") + sum(sum(t["stages"]["scaleCPU"]) + sum(t["stages"]["encodeCPU"]) for t in renders)
    print(row("agent: the rest (frame reads, uploads, ZMQ)", cpu["agents"] - measured, frames))
    print(row("ffmpeg: decode, scale, x264 ladder", 0, frames, split["ladder"][1], "baseline only"))
    print(row("coordinator", cpu["coordinator"], frames))
    print(row("total", farm_cpu, frames, base_cpu))
    print()

    slots = sorted({t["agent"] for t in tasks})
    print(f"  {'slot wall time, submission to the end':<40} " + " ".join(f"{s[-12:]:>12}" for s in slots) + f" {'all':>8}")
    lines = {}

    def add(label, agent, seconds):
        lines.setdefault(label, {}).setdefault(agent, 0.0)
        lines[label][agent] += seconds

    for agent in slots:
        mine = sorted((t for t in tasks if t["agent"] == agent), key=lambda t: t["assigned"])
        clock = submitted
        for task in mine:
            add("idle: waiting for an assignment" if clock > submitted else "idle: before the first assignment",
                agent, max(task["assigned"] - clock, 0))
            span = task["ended"] - task["assigned"]
            stages = task.get("stages")
            if task["kind"] == "plan":
                add("busy: planning pass", agent, span)
            elif stages is None:
                add("busy: failed attempts", agent, span)
            else:
                m = stages.get("manim") or {}
                add("busy: launch (files, warm fork)", agent, stages["launch"])
                add("busy: to 1st frame: LaTeX", agent, min(m.get("latex", 0), stages["firstFrame"]))
                add("busy: to 1st frame: skipping", agent, min(m.get("skip", 0), stages["firstFrame"]))
                add("busy: to 1st frame: start-up, script", agent,
                    max(stages["firstFrame"] - m.get("latex", 0) - m.get("skip", 0), 0))
                add("busy: frames: waiting on Manim", agent, stages["waitForFrames"])
                add("busy: frames: waiting on encoders", agent, stages["encodeWall"])
                add("busy: frames: uploads", agent, stages["upload"])
                loop = stages["total"] - stages["launch"] - stages["firstFrame"] - stages["finish"]
                add("busy: frames: the rest (RGBA->YUV, reads)", agent,
                    max(loop - stages["waitForFrames"] - stages["encodeWall"] - stages["upload"], 0))
                add("busy: finish (flush, Manim's exit)", agent, stages["finish"])
                add("busy: result to the coordinator", agent, max(span - stages["total"], 0))
            clock = task["ended"]
        add("idle: after its last task (assembly)", agent, max(ended - clock, 0))
    for label in sorted(lines, key=lambda l: (not l.startswith("busy"), l)):
        values = [lines[label].get(agent, 0.0) for agent in slots]
        print(f"  {label:<40} " + " ".join(f"{v:12.2f}" for v in values) + f" {sum(values):8.2f}")
    print(f"  {'total':<40} " + " ".join(f"{farm_wall:12.2f}" for _ in slots) + f" {farm_wall * len(slots):8.2f}")
    print()
    fixed_costs(tasks, submitted)
    print()
    print(f"  Manim's own account (all tasks): set-up {manim_total('setup'):.2f} s, LaTeX {manim_total('latex'):.2f} s "
          f"({manim_total('latexCompiles')} compiles of {manim_total('texCalls')} expressions), skipping "
          f"{manim_total('skip'):.2f} s, drawing {manim_total('draw'):.2f} s, frame pipe {manim_total('pipe'):.2f} s, "
          f"{manim_total('writes')} writes for {manim_total('frames')} frames")
    return farm_wall / base_wall


def fixed_costs(tasks, submitted):
    """Each render task's fixed cost on its agent: the seconds it holds a slot without drawing or encoding a frame
    (launch, start-up to the first frame with LaTeX served from the plan's bundle, finishing, reporting) plus the
    slot's wait for its next assignment. Skipping to a range's first animation is shown apart: it grows with where
    the range starts, not with the number of tasks."""
    rows = []
    by_agent = {}
    for task in sorted((t for t in tasks if "stages" in t), key=lambda t: t["assigned"]):
        by_agent.setdefault(task["agent"], []).append(task)
    for agent, mine in by_agent.items():
        for index, task in enumerate(mine):
            stages, manim = task["stages"], task["stages"].get("manim") or {}
            skip = min(manim.get("skip", 0), stages["firstFrame"])
            latex = min(manim.get("latex", 0), stages["firstFrame"])
            following = by_agent[agent][index + 1]["assigned"] - task["ended"] if index + 1 < len(mine) else 0.0
            parts = {"launch": stages["launch"], "start-up": stages["firstFrame"] - skip - latex, "LaTeX": latex,
                     "finish": stages["finish"], "report": max(task["ended"] - task["assigned"] - stages["total"], 0),
                     "next": max(following, 0)}
            rows.append((f"{agent[-1:]} {task['task'][-3:]:>3} {task['assigned'] - submitted:5.1f}-{task['ended'] - submitted:5.1f} "
                         f"{task['frames']:4d}", parts, sum(parts.values()), skip))
    if not rows:
        return
    columns = ["launch", "start-up", "LaTeX", "finish", "report", "next"]
    print("  per-task fixed cost, s: what each render task holds its slot for without drawing or encoding a frame")
    print(f"  {'slot task from-to frames':<24} " + " ".join(f"{c:>8}" for c in columns) + f" {'fixed':>8} {'skipping':>9}")
    for name, parts, total, skip in rows:
        print(f"  {name:<24} " + " ".join(f"{parts[c]:8.3f}" for c in columns) + f" {total:8.3f} {skip:9.3f}")
    totals = sorted(total for _, _, total, _ in rows)
    median = totals[len(totals) // 2] if len(totals) % 2 else (totals[len(totals) // 2 - 1] + totals[len(totals) // 2]) / 2
    print(f"  fixed cost per task: median {median:.3f} s, mean {sum(totals) / len(totals):.3f} s, max {totals[-1]:.3f} s "
          f"over {len(totals)} render tasks (target 0.3 s; LaTeX {sum(p['LaTeX'] for _, p, _, _ in rows):.3f} s in all: "
          "each expression comes from the plan's bundle)")


def arguments_and_scenes(description, port):
    """The benchmarks' command line (script, --quality, --agents, --port), and the script's scenes in order."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("script", nargs="?", default=os.path.join(HERE, "examples", "explainer.py"))
    parser.add_argument("--quality", default="high", choices=sorted(QUALITY))
    parser.add_argument("--agents", type=int, default=2)
    parser.add_argument("--port", type=int, default=port)
    arguments = parser.parse_args()
    arguments.script = os.path.abspath(arguments.script)
    with open(arguments.script, "rb") as source:
        found = json.loads(subprocess.run(
            [sys.executable, os.path.join(HERE, "Sources", "Coordinator", "Discovery", "discover_scenes.py")],
            input=source.read(), capture_output=True, check=True).stdout)
    return arguments, [scene["name"] for scene in found["scenes"]]


def main():
    arguments, scenes = arguments_and_scenes(__doc__, port=18180)
    script = arguments.script
    with tempfile.TemporaryDirectory(prefix="farm-accounting-") as work:
        split = baseline(script, scenes, arguments.quality, os.path.join(work, "base"))
        submitted, ended, tasks, cpu = run_farm(script, arguments.quality, arguments.agents, work, arguments.port)
        report(script, arguments.quality, arguments.agents, split, submitted, ended, tasks, cpu)


if __name__ == "__main__":
    main()
