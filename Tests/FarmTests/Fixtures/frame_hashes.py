"""Runs the farm's shim and prints the SHA-256 of every frame it streams, one per line.

Usage: frame_hashes.py [--stock | --plan] PYTHON SHIM SCRIPT SCENE QUALITY [FROM,TO]
A frame sent once with repeat=N is printed N times, as a decoder would see it.
--stock keeps Manim's own skipping (FARM_STOCK_SKIPPING=1), for comparison.
--plan runs a planning pass instead (SCENE may be several, comma-separated) and
prints each scene's plan as one line of JSON.
"""

import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

environment = dict(os.environ)
planning = False
if sys.argv[1] == "--stock":
    environment["FARM_STOCK_SKIPPING"] = "1"
    del sys.argv[1]
elif sys.argv[1] == "--plan":
    environment["FARM_PLAN"] = "1"
    planning = True
    del sys.argv[1]
python, shim, script, scene, quality = sys.argv[1:6]
arguments = [python, shim, "render", script, *scene.split(","), "-q", quality, "--seed", "7", "--disable_caching",
             "--progress_bar", "none", "--silent"]
if len(sys.argv) > 6:
    arguments += ["-n", sys.argv[6]]
elif planning:
    arguments += ["-n", "1000000000"]
with tempfile.TemporaryDirectory() as media:
    process = subprocess.Popen(arguments + ["--media_dir", media], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=environment)
    stream = process.stdout
    done = False
    while True:
        tag = stream.read(4)
        if tag == b"FRAM":
            width, height, repeat, _ = struct.unpack("<IIId", stream.read(20))
            digest = hashlib.sha256(stream.read(width * height * 4)).hexdigest()
            for _ in range(repeat):
                print(digest)
        elif tag == b"PLAN":
            (length,) = struct.unpack("<I", stream.read(4))
            print(stream.read(length).decode())
            done = planning
        elif tag == b"STAT":
            (length,) = struct.unpack("<I", stream.read(4))
            json.loads(stream.read(length))  # the render's own timings: well-formed, not part of the frames
        elif tag == b"DONE":
            stream.read(4)
            done = True
        else:
            break
    error = process.stderr.read().decode(errors="replace")
    if process.wait() != 0 or not done:
        sys.exit(f"render failed ({process.returncode}):\n{error[-2000:]}")
