"""Compares the farm's sound track with plain Manim's, scene by scene.

Usage: audio_compare.py '<json>' with {"farm": path, "maxLag": samples,
"scenes": [{"plain": path, "start": sample, "samples": count}]}. Every file is
decoded by ffmpeg to 48 kHz; each scene's share of the farm's track is
cross-correlated (by FFT) with plain Manim's mix of that scene, cut or padded
with silence to the scene's length as the farm's track is. Prints JSON.
"""
import json
import subprocess
import sys

import numpy as np


def pcm(path):
    """The track as played, one channel (a stereo track's mean; a mono one as players play it on both sides), with
    samples before time 0 (the encoder's priming, which the edit list puts there) dropped."""
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=start_time,channels",
                            "-of", "json", path], capture_output=True, check=True, text=True).stdout
    stream = json.loads(probe)["streams"][0]
    channels = int(stream["channels"])
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-map", "0:a:0", "-f", "f32le", "-ar", "48000", "-"],
                         capture_output=True, check=True).stdout
    samples = np.frombuffer(out, dtype=np.float32).reshape(-1, channels).mean(axis=1).astype(np.float64)
    early = max(0, round(-float(stream.get("start_time") or 0) * 48000))
    return samples[early:]


def rms(x):
    return float(np.sqrt(np.mean(x ** 2))) if len(x) else 0.0


args = json.loads(sys.argv[1])
farm = pcm(args["farm"])
max_lag = int(args["maxLag"])
results = []
for scene in args["scenes"]:
    count = int(scene["samples"])
    plain = pcm(scene["plain"])[:count]
    plain = np.pad(plain, (0, count - len(plain)))
    part = farm[scene["start"]:scene["start"] + count]
    size = 1 << int(np.ceil(np.log2(len(plain) + len(part))))
    correlation = np.fft.irfft(np.fft.rfft(part, size) * np.conj(np.fft.rfft(plain, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    lag = int(lags[int(np.argmax(correlation[lags % size]))])
    if lag >= 0:
        a = part[lag:]
        b = plain[:len(a)]
    else:
        b = plain[-lag:]
        a = part[:len(b)]
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    denominator = np.sqrt(np.dot(a, a) * np.dot(b, b))
    results.append({"lag": lag, "farmRMS": rms(a), "plainRMS": rms(b),
                    "correlation": float(np.dot(a, b) / denominator) if denominator > 0 else 0.0})
print(json.dumps({"farmSamples": len(farm), "scenes": results}))
