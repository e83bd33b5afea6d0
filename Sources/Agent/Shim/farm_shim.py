"""Runs `manim render` for ManimFarm, streaming raw frames to the agent.

Manim normally encodes every animation into a partial movie and then joins
them. The farm encodes frames itself (once per rendition), so this shim
replaces the video side of Manim's SceneFileWriter: frames leave Manim as raw
RGBA over the process's original stdout, and Manim's own output goes to stderr.

Wire format on stdout, all integers little-endian:
  b"FRAM" width:u32 height:u32 repeat:u32 fps:f64, then width*height*4 bytes
  b"DONE" plays:u32
The agent treats a stream without DONE as a failed render.

Pinned to the Manim version in MANIM_VERSION: the patched methods are private
to Manim and change between releases.
"""

import os
import resource
import struct
import sys

FRAME_STREAM = os.fdopen(os.dup(1), "wb", buffering=1 << 20)
os.dup2(2, 1)

memory_limit = int(os.environ.get("FARM_MEMORY_LIMIT_BYTES", "0"))
if memory_limit > 0:
    # An address-space limit turns runaway allocation into a MemoryError
    # instead of the kernel's OOM killer taking the whole machine down.
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

import numpy as np  # noqa: E402  (after the stdout swap, on purpose)
from manim import config  # noqa: E402
from manim.scene.scene_file_writer import SceneFileWriter  # noqa: E402


def _open_partial_movie_stream(self, *, animation_index, file_path=None):
    self._farm_segment_open = True


def _close_partial_movie_stream(self):
    self._farm_segment_open = False


def _write_frame(self, pixels, *, repeat=1):
    # Frames outside an open segment do not belong to the video (as in Manim).
    if not self.output_spec.is_video or not getattr(self, "_farm_segment_open", False):
        return
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = pixels.shape[0], pixels.shape[1]
    FRAME_STREAM.write(b"FRAM" + struct.pack("<IIId", width, height, repeat, float(config.frame_rate)))
    FRAME_STREAM.write(memoryview(pixels).cast("B"))


def _finish(self):
    FRAME_STREAM.write(b"DONE" + struct.pack("<I", len(self.partial_movie_files)))
    FRAME_STREAM.flush()


def _nothing(self, *args, **kwargs):
    return None


def _never_cached(self, hash_invocation):
    return False


SceneFileWriter.open_partial_movie_stream = _open_partial_movie_stream
SceneFileWriter.close_partial_movie_stream = _close_partial_movie_stream
SceneFileWriter.write_frame = _write_frame
SceneFileWriter.finish = _finish
SceneFileWriter.is_already_cached = _never_cached
SceneFileWriter.join_all_encode_jobs = _nothing
SceneFileWriter.abort_encode_jobs = _nothing
SceneFileWriter.combine_to_movie = _nothing

if __name__ == "__main__":
    from manim.__main__ import main

    try:
        main(prog_name="manim")
    finally:
        try:
            FRAME_STREAM.flush()
        except BrokenPipeError:
            pass
