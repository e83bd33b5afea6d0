#!/usr/bin/env python3
"""Quality of the farm's ladder against the baseline's, against the frames Manim drew.

Speed must never be bought with quality. The reference is every frame of the script as Manim draws it,
raw (the farm's shim, before any conversion or encoding). The baseline is what `bench/farm-vs-manim.sh` runs:
`manim render` (H.264), then ffmpeg scaling and re-encoding that into the three-rung ladder with the
same x264 settings as the farm (veryfast, CRF 23). The farm renders the same script with `farm up`.
For each rung, both are decoded and compared with the reference scaled to the rung's size (bicubic), and
their bitrates measured: the farm's PSNR should be no lower than the baseline's at no higher a bitrate.

    bench/quality.py [script.py] [--quality high] [--agents 2]
"""

import json
import os
import re
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from accounting import BIN, HERE, QUALITY, VENV, arguments_and_scenes, baseline, ladder_heights, start_farm  # noqa: E402


def psnr_all(script, scenes, quality, videos):
    """Average PSNR (all planes) of each video against every frame Manim draws for the script.

    The reference frames come raw from the farm's shim (`farm_shim.py render`, still stretches repeated), so
    nothing lossy touches them; they are split once per video and scaled to its height (bicubic)."""
    flag, _, fps = QUALITY[quality]
    shim = os.path.join(HERE, "Sources", "Agent", "Shim", "farm_shim.py")
    with tempfile.TemporaryDirectory(prefix="farm-quality-media-") as media:
        manim = subprocess.Popen([os.path.join(VENV, "bin", "python"), shim, "render", script] + scenes
                                 + [f"-q{flag}", "--seed", "0", "--disable_caching", "--silent", "--progress_bar", "none",
                                    "--media_dir", media], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        size = None
        first = manim.stdout.read(4)
        assert first == b"FRAM", f"the shim sent {first!r} first"
        width, height, repeat, _ = struct.unpack("<IIId", manim.stdout.read(20))
        graph = f"[0:v]split={len(videos)}" + "".join(f"[r{i}]" for i in range(len(videos))) + ";"
        command = ["ffmpeg", "-v", "info", "-f", "rawvideo", "-pix_fmt", "rgba", "-s", f"{width}x{height}",
                   "-framerate", str(fps), "-i", "pipe:0"]
        for index, (video, rung) in enumerate(videos):
            command += ["-i", video]
            graph += (f"[r{index}]scale=-2:{rung}:flags=bicubic,format=yuv420p[ref{index}];"
                      f"[{index + 1}:v]setpts=PTS-STARTPTS[d{index}];[d{index}][ref{index}]psnr[o{index}];")
        command += ["-filter_complex", graph.rstrip(";")]
        for index in range(len(videos)):
            command += ["-map", f"[o{index}]", "-f", "null", "-"]
        ffmpeg = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        frames = 0
        tag = first
        while tag:
            if tag == b"FRAM":
                if size is None:
                    size = width * height * 4
                else:
                    width, height, repeat, _ = struct.unpack("<IIId", manim.stdout.read(20))
                pixels = manim.stdout.read(width * height * 4)
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
        ffmpeg.stdin.close()
        output = ffmpeg.stderr.read().decode(errors="replace")
        ffmpeg.wait()
        manim.wait()
    found = [float(value) if value != "inf" else float("inf") for value in re.findall(r"PSNR .*average:([0-9.]+|inf)", output)]
    if len(found) != len(videos):
        raise SystemExit(f"ffmpeg reported {len(found)} PSNR values for {len(videos)} videos:\n{output[-3000:]}")
    return frames, found


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
    with tempfile.TemporaryDirectory(prefix="farm-quality-") as work:
        baseline(script, scenes, arguments.quality, os.path.join(work, "base"))
        farm = farm_ladder(script, arguments.quality, arguments.agents, work, arguments.port)
        rungs = ladder_heights(height)
        videos = [(farm[rung], rung) for rung in rungs] + [(os.path.join(work, "base", f"out_{i}.m3u8"), rung)
                                                           for i, rung in enumerate(rungs)]
        count, values = psnr_all(script, scenes, arguments.quality, videos)
        print(f"script {os.path.basename(script)}, {arguments.quality}, {count} reference frames drawn by Manim")
        print(f"  {'rung':>6} {'farm kb/s':>10} {'farm PSNR':>10} {'base kb/s':>10} {'base PSNR':>10} {'PSNR farm-base':>15}")
        for index, rung in enumerate(rungs):
            (farm_frames, farm_size), (base_frames, base_size) = (frames_and_bytes(videos[index][0]),
                                                                  frames_and_bytes(videos[index + len(rungs)][0]))
            farm_rate, base_rate = 8 * farm_size / (farm_frames / fps) / 1000, 8 * base_size / (base_frames / fps) / 1000
            farm_psnr, base_psnr = values[index], values[index + len(rungs)]
            print(f"  {rung:>5}p {farm_rate:10.0f} {farm_psnr:10.2f} {base_rate:10.0f} {base_psnr:10.2f} "
                  f"{farm_psnr - base_psnr:+15.2f}" + ("" if farm_frames == base_frames == count else
                                                       f"  (frames: farm {farm_frames}, base {base_frames})"))


if __name__ == "__main__":
    main()
