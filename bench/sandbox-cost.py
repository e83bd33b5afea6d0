#!/usr/bin/env python3
"""Sandbox cost per task, against the warm start it is added to.

What a sandboxed task pays beyond today's warm start (a fork of the warm
server) is measured where it happens:

  fork          a warm server's fork that exits at once (the baseline)
  fork+isolate  the same fork, isolating itself first (farm_sandbox.isolate:
                user, mount, PID, IPC and UTS namespaces, private /tmp, task
                folder, empty /proc, capabilities dropped, a second fork for
                PID 1) -- run inside the same bubblewrap sandbox the agent uses
  cgroups       the agent's per-task control groups: create, set pids and
                memory limits, join through an opened cgroup.procs, kill and
                remove (skipped where this user may not create them)

Prints medians over RUNS tasks, and the ratio of the sandboxed start to the
baseline. The target is at most 50 ms on top of the warm start.

  bench/sandbox-cost.py [RUNS]
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM = os.path.join(os.path.dirname(HERE), "Sources", "Agent", "Shim")
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 50

# Runs inside bubblewrap, as the warm server does: times forks with and without isolation.
INNER = r"""
import os, sys, time, statistics
sys.path.insert(0, sys.argv[1])
import farm_sandbox
root, runs = sys.argv[2], int(sys.argv[3])
try:
    import manim  # noqa: F401  (forks of a process of the warm server's size, as the agent's are)
except ImportError:
    pass

def timed(isolate):
    samples = []
    for index in range(runs):
        task = os.path.join(root, f"task-{isolate}-{index}")
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            if isolate:
                farm_sandbox.isolate(task, 64 << 20)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        samples.append(time.perf_counter() - started)
        assert status == 0, f"task exited with status {status}"
    return statistics.median(samples) * 1000

print(f"{timed(False):.2f} {timed(True):.2f}")
"""


def bwrap_command(work_root, python):
    interpreter = os.path.realpath(python)
    prefix = os.path.dirname(os.path.dirname(interpreter))
    command = ["bwrap", "--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
               "--die-with-parent", "--new-session", "--uid", "1000", "--gid", "1000",
               "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--dir", "/run/farm"]
    environment = os.path.dirname(os.path.dirname(os.path.abspath(python)))
    for path in ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc/ld.so.cache", "/etc/fonts", prefix, environment, SHIM]:
        command += ["--ro-bind-try", path, path]
    return command + ["--ro-bind", work_root, work_root, "--setenv", "HOME", "/tmp", "--", python]


def cgroup_cost(runs):
    base = "/sys/fs/cgroup/pids/manimfarm-bench"
    unified = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    if unified:
        base = "/sys/fs/cgroup/manimfarm-bench"
    try:
        os.makedirs(base, exist_ok=True)
    except OSError:
        return None
    samples = []
    try:
        for index in range(runs):
            started = time.perf_counter()
            group = os.path.join(base, f"task-{index}")
            os.mkdir(group)
            with open(os.path.join(group, "pids.max"), "w") as limit:
                limit.write("512")
            procs = os.open(os.path.join(group, "cgroup.procs"), os.O_WRONLY)
            pid = os.fork()
            if pid == 0:
                os.write(procs, b"0")
                os._exit(0)
            os.close(procs)
            os.waitpid(pid, 0)
            with open(os.path.join(group, "cgroup.procs")) as members:
                for member in members.read().split():
                    os.kill(int(member), 9)
            while True:
                try:
                    os.rmdir(group)
                    break
                except OSError:
                    time.sleep(0.001)
            samples.append(time.perf_counter() - started)
    finally:
        try:
            os.rmdir(base)
        except OSError:
            pass
    return statistics.median(samples) * 1000


def main():
    if not shutil.which("bwrap"):
        sys.exit("sandbox-cost: bwrap is not installed (apt-get install bubblewrap)")
    python = os.environ.get("FARM_PYTHON", os.path.join(os.path.dirname(HERE), ".venv", "bin", "python"))
    if not os.path.exists(python):
        python = sys.executable
    work_root = tempfile.mkdtemp(prefix="farm-sandbox-bench-")
    try:
        for index in range(RUNS):
            for kind in ("False", "True"):
                os.makedirs(os.path.join(work_root, f"task-{kind}-{index}"))
        output = subprocess.run(bwrap_command(work_root, python) + ["-c", INNER, SHIM, work_root, str(RUNS)],
                                check=True, capture_output=True, text=True).stdout.split()
        fork, isolated = float(output[0]), float(output[1])
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    cgroups = cgroup_cost(RUNS)
    added = isolated - fork + (cgroups or 0)
    print(f"sandbox cost per task, medians of {RUNS}:")
    print(f"  warm fork (baseline)       {fork:7.2f} ms")
    print(f"  warm fork + isolation      {isolated:7.2f} ms   ratio {isolated / fork:5.2f}x")
    print(f"  per-task control groups    " + (f"{cgroups:7.2f} ms" if cgroups is not None else "   n/a (not permitted here)"))
    print(f"  added per task             {added:7.2f} ms   (target <= 50 ms)")


if __name__ == "__main__":
    main()
