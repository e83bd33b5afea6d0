#!/usr/bin/env python3
"""Quality of the farm's ladder against the baseline's, against the frames Manim drew.

Speed must never be bought with quality. The reference is every frame of the script as Manim draws it,
raw (the farm's shim, before any conversion or encoding). The baseline is what `bench/farm-vs-manim.sh` runs:
`manim render` (H.264), then ffmpeg scaling and re-encoding that into the three-rung ladder with the
same x264 settings as the farm (veryfast, CRF 23). The farm renders the same script with `farm up`.
For each rung, both are decoded and compared with the reference scaled to the rung's size (bicubic), and
their bitrates measured: the farm's PSNR should be no lower than the baseline's at no higher a bitrate.
The reference is kept losslessly in a file and each video is measured in an ffmpeg run of its own: an earlier
version fed the reference through a pipe to one run holding all six comparisons, and its figures (the farm
+3 dB on explainer.py) were not reproduced by separate runs.

    bench/quality.py [script.py] [--quality high] [--agents 2]
"""

import contextlib
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from accounting import BIN, HERE, QUALITY, VENV, arguments_and_scenes, baseline, ladder_heights, start_farm  # noqa: E402


def reference(script, scenes, quality, path):
    """Every frame Manim draws for the script, raw from the farm's shim (`farm_shim.py render`, still stretches
    repeated), kept losslessly (FFV1, RGBA) in `path`; returns the frame count."""
    flag, _, fps = QUALITY[quality]
    shim = os.path.join(HERE, "Sources", "Agent", "Shim", "farm_shim.py")
    with tempfile.TemporaryDirectory(prefix="farm-quality-media-") as media:
        manim = subprocess.Popen([os.path.join(VENV, "bin", "python"), shim, "render", script] + scenes
                                 + [f"-q{flag}", "--seed", "0", "--disable_caching", "--silent", "--progress_bar", "none",
                                    "--media_dir", media], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        ffmpeg, frames = None, 0
        tag = manim.stdout.read(4)
        while tag:
            if tag == b"FRAM":
                width, height, repeat, _ = struct.unpack("<IIId", manim.stdout.read(20))
                pixels = manim.stdout.read(width * height * 4)
                if ffmpeg is None:
                    ffmpeg = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgba",
                                               "-s", f"{width}x{height}", "-framerate", str(fps), "-i", "pipe:0",
                                               "-c:v", "ffv1", path], stdin=subprocess.PIPE)
                for _ in range(repeat):
                    ffmpeg.stdin.write(pixels)
                frames += repeat
            elif tag in (b"STAT", b"PLAN"):
                manim.stdout.read(struct.unpack("<I", manim.stdout.read(4))[0])
            elif tag == b"DONE":
                manim.stdout.read(4)
            else:
                raise SystemExit(f"unexpected {tag!r} in the frame stream")
            tag = manim.stdout.read(4)
        manim.wait()
        if ffmpeg is None:
            raise SystemExit("the shim drew no frame")
        ffmpeg.stdin.close()
        if ffmpeg.wait() != 0:
            raise SystemExit("ffmpeg could not keep the reference frames")
    return frames


def psnr(video, rung, reference_path, matrix):
    """PSNR (average of all planes, then Y, U, V) of one video against the reference scaled to its height
    (bicubic) and converted to limited-range 4:2:0 with the video's own colour matrix, each video in an ffmpeg
    run of its own, both streams' timestamps from zero.

    The matrix matters: the farm converts with BT.709 and says so in its streams; Manim's MP4s (so the
    baseline's ladder) are converted with BT.601 and say nothing. Against one reference in one matrix, the
    other video loses 1-2 dB on colourful scenes for a choice that is not its encoder's quality."""
    output = subprocess.run(
        ["ffmpeg", "-v", "info", "-i", video, "-i", reference_path, "-lavfi",
         f"[1:v]scale=-2:{rung}:flags=bicubic:out_color_matrix={matrix}:out_range=tv,format=yuv420p,setpts=PTS-STARTPTS[ref];"
         "[0:v]setpts=PTS-STARTPTS[out];[out][ref]psnr", "-f", "null", "-"],
        capture_output=True, text=True).stderr
    number = lambda value: float("inf") if value == "inf" else float(value)
    found = re.findall(r"PSNR y:([0-9.]+|inf) u:([0-9.]+|inf) v:([0-9.]+|inf) average:([0-9.]+|inf)", output)
    if len(found) != 1:
        raise SystemExit(f"ffmpeg reported no PSNR for {video}:\n{output[-3000:]}")
    y, u, v, average = found[0]
    return number(average), number(y), number(u), number(v)


def frames_and_bytes(playlist):
    """Decoded frame count and media bytes (init and segments) of an HLS rendition."""
    folder = os.path.dirname(playlist)
    files = set()
    with open(playlist) as text:
        for line in text:
            line = line.strip()
            uri = re.search(r'URI="([^"]+)"', line)
            if uri:
                files.add(uri.group(1))
            elif line and not line.startswith("#"):
                files.add(line)
    size = sum(os.path.getsize(os.path.join(folder, name.split("?")[0])) for name in files)
    count = int(subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                                "stream=nb_read_frames", "-of", "csv=p=0", playlist],
                               capture_output=True, text=True, check=True).stdout.split()[0])
    return count, size


def farm_ladder(script, quality, agents, work, port):
    farm, data, _ = start_farm(work, agents, port)
    try:
        key = "@" + os.path.join(data, "coordinator", "keys", "admin.key")
        status = json.loads(subprocess.run(
            [os.path.join(BIN, "farm"), "submit", script, "--quality", quality, "--no-cache", "--wait", "--json",
             "--coordinator", f"http://127.0.0.1:{port}", "--api-key", key],
            check=True, capture_output=True, text=True).stdout)
    finally:
        os.killpg(farm.pid, 15)
        farm.wait(timeout=60)
    master = status["outputs"]["masterPath"]
    folder = os.path.dirname(master)
    playlists = {}
    with open(master) as text:
        lines = text.read().splitlines()
    for index, line in enumerate(lines):
        resolution = re.search(r"RESOLUTION=\d+x(\d+)", line)
        if line.startswith("#EXT-X-STREAM-INF") and resolution:
            playlists[int(resolution.group(1))] = os.path.join(folder, lines[index + 1])
    return playlists


def main():
    arguments, scenes = arguments_and_scenes(__doc__, port=18280)
    script = arguments.script
    _, height, fps = QUALITY[arguments.quality]
    # FARM_KEEP_WORK=1 keeps both ladders and the farm's log (the folder is printed).
    keep = os.environ.get("FARM_KEEP_WORK")
    with (contextlib.nullcontext(tempfile.mkdtemp(prefix="farm-quality-")) if keep
          else tempfile.TemporaryDirectory(prefix="farm-quality-")) as work:
        if keep:
            print(f"working in {work}")
        baseline(script, scenes, arguments.quality, os.path.join(work, "base"))
        farm = farm_ladder(script, arguments.quality, arguments.agents, work, arguments.port)
        rungs = ladder_heights(height)
        videos = [(farm[rung], rung) for rung in rungs] + [(os.path.join(work, "base", f"out_{i}.m3u8"), rung)
                                                           for i, rung in enumerate(rungs)]
        reference_path = os.path.join(work, "reference.mkv")
        count = reference(script, scenes, arguments.quality, reference_path)
        values = [psnr(video, rung, reference_path, "bt709" if index < len(rungs) else "bt601")
                  for index, (video, rung) in enumerate(videos)]
        print(f"script {os.path.basename(script)}, {arguments.quality}, {count} reference frames drawn by Manim")
        print(f"  {'rung':>6} {'farm kb/s':>10} {'farm PSNR':>10} {'base kb/s':>10} {'base PSNR':>10} {'PSNR farm-base':>15}  {'Y, U, V farm-base':>20}")
        for index, rung in enumerate(rungs):
            (farm_frames, farm_size), (base_frames, base_size) = (frames_and_bytes(videos[index][0]),
                                                                  frames_and_bytes(videos[index + len(rungs)][0]))
            farm_rate, base_rate = 8 * farm_size / (farm_frames / fps) / 1000, 8 * base_size / (base_frames / fps) / 1000
            (farm_psnr, *farm_planes), (base_psnr, *base_planes) = values[index], values[index + len(rungs)]
            planes = " ".join(f"{f - b:+6.2f}" for f, b in zip(farm_planes, base_planes))
            print(f"  {rung:>5}p {farm_rate:10.0f} {farm_psnr:10.2f} {base_rate:10.0f} {base_psnr:10.2f} "
                  f"{farm_psnr - base_psnr:+15.2f}  {planes}" + ("" if farm_frames == base_frames == count else
                                                       f"  (frames: farm {farm_frames}, base {base_frames})"))


if __name__ == "__main__":
    main()
