"""Runs Manim for ManimFarm: renders streaming raw frames, plans, or serves warm forks.

Manim normally encodes every animation into a partial movie and then joins
them. The farm encodes frames itself (once per rendition), so this shim
replaces the video side of Manim's SceneFileWriter: frames leave Manim as raw
RGBA over a dedicated stream, and Manim's own output goes to stderr.

Modes:
  farm_shim.py render ARGS...   a cold render (`manim render ARGS`); frames on stdout
  farm_shim.py serve            a warm fork server on fd 3 (see `serve`)
  FARM_PLAN=1 in the environment makes a render a planning pass: every
  animation is skipped and each scene's animation list is written instead.
  FARM_STOCK_SKIPPING=1 keeps Manim's own (inexact) skipping, for comparison.

Stream format, all integers little-endian:
  b"FRAM" width:u32 height:u32 repeat:u32 fps:f64, then width*height*4 bytes
  b"FRSH" width:u32 height:u32 repeat:u32 fps:f64 slot:u32: the frame is in that slot of the shared frame ring
          (FrameRing.swift), which the agent hands back with one byte on the ring's socket
  b"PLAN" length:u32, then that many bytes of JSON (one per scene, planning only)
  b"STAT" length:u32, then that many bytes of JSON: where the render's time went (see STAGES), before DONE
  b"DONE" plays:u32
The agent treats a stream without DONE as a failed render.

Skipping is exact: a skipped animation steps through every frame time it
would have drawn, running updaters, without drawing (stock Manim jumps to the
end in one step, so `dt` updaters, per-frame randomness and camera rotation
drift). A range rendered with `-n a,b` is therefore identical, frame for frame,
to the same frames of a whole render.

Pinned to the Manim version in MANIM_VERSION: the patched methods are private
to Manim and change between releases.
"""

import json
import os
import resource
import select
import signal
import socket
import struct
import sys
import time

MANIM_VERSION = "0.22.0"
FRAME_STREAM = None
PLANNING = False

# Where a render's time goes, in seconds (wall unless named CPU), reported in the STAT record so the
# agent can account for every stage (bench/accounting.py): setup is the process's start until the first
# animation plays; latex is compiling TeX and converting it to SVG (its CPU is the compilers', children
# of this process); skip is stepping through animations before a range's first; draw is cairo drawing
# the frames; pipe is handing them to the agent (blocked while it encodes the previous one).
STAGES = {
    "setup": 0.0, "latex": 0.0, "latexCPU": 0.0, "latexCompiles": 0, "texCalls": 0, "skip": 0.0,
    "draw": 0.0, "drawCPU": 0.0, "pipe": 0.0, "frames": 0, "writes": 0, "total": 0.0, "cpu": 0.0,
}
_STARTED = [time.perf_counter(), time.process_time()]
_FIRST_PLAY = [None]


def _restart_clocks():
    """A warm fork's clocks start when it is forked, not when its server started."""
    _STARTED[:] = [time.perf_counter(), time.process_time()]


class _FrameRing:
    """Frames through shared memory (the agent's FrameRing): two slots, each handed back by the agent."""

    SLOTS = 2

    def __init__(self, memory_fd, ack_fd):
        import mmap

        self.memory = mmap.mmap(memory_fd, 0)
        os.close(memory_fd)
        self.slot_bytes = len(self.memory) // self.SLOTS
        self.acks = socket.socket(fileno=ack_fd)
        self.next = 0
        self.in_flight = 0

    def write(self, pixels, width, height, repeat, fps):
        if self.in_flight == self.SLOTS:
            if not self.acks.recv(16):
                raise BrokenPipeError("the agent stopped taking frames")
            self.in_flight -= 1
        slot = self.next
        view = np.frombuffer(self.memory, dtype=np.uint8, count=pixels.nbytes, offset=slot * self.slot_bytes)
        np.copyto(view, pixels.reshape(-1))
        FRAME_STREAM.write(b"FRSH" + struct.pack("<IIIdI", width, height, repeat, fps, slot))
        FRAME_STREAM.flush()
        self.next = (slot + 1) % self.SLOTS
        self.in_flight += 1


RING = None


def _attach_ring(memory_fd, ack_fd):
    global RING
    RING = _FrameRing(memory_fd, ack_fd)


def _attach_streams(frame_fd):
    """Frames go to `frame_fd`; anything Manim prints goes to stderr."""
    global FRAME_STREAM
    FRAME_STREAM = os.fdopen(frame_fd, "wb", buffering=1 << 20)
    os.dup2(2, 1)


def _apply_limits():
    memory_limit = int(os.environ.get("FARM_MEMORY_LIMIT_BYTES", "0"))
    if memory_limit > 0:
        # An address-space limit turns runaway allocation into a MemoryError
        # instead of the kernel's OOM killer taking the whole machine down.
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    file_limit = int(os.environ.get("FARM_FILE_LIMIT_BYTES", "0"))
    if file_limit > 0:
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))


def _join_cgroups(fds):
    """Moves this process into its task's control groups (the agent opened their cgroup.procs)."""
    for fd in fds:
        os.write(fd, b"0")
        os.close(fd)


# Exit statuses that tell the agent how a run ended (Render/ShimExit.swift), so it never
# classifies a failure from the log's text. A task the agent could not confine is the
# agent's failure, never the script's.
CONFINEMENT_FAILED = 71
SCRIPT_RAISED = 72
OUT_OF_MEMORY = 73
TOOL_MISSING = 74
# Programs Manim runs for LaTeX: a FileNotFoundError naming one means the agent lacks it.
TOOLS = {"latex", "xelatex", "lualatex", "pdflatex", "dvisvgm"}


def _confine(cgroup_fds):
    """Joins the task's control groups and isolates it inside the agent's sandbox (see farm_sandbox.py)."""
    try:
        _join_cgroups(cgroup_fds)
        task = os.environ.pop("FARM_SANDBOX_TASK", None)
        if task:
            import farm_sandbox

            farm_sandbox.isolate(task, int(os.environ.get("FARM_TMP_BYTES", str(2 << 30))))
    except Exception as error:  # noqa: BLE001  (whatever went wrong, the script must not run unconfined)
        print(f"farm_shim: could not confine the task: {error!r}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(CONFINEMENT_FAILED)


if __name__ == "__main__" and sys.argv[1:2] != ["serve"]:
    _attach_streams(os.dup(1))
    _ring_fds = [int(fd) for fd in os.environ.pop("FARM_FRAME_RING_FDS", "").split(",") if fd]
    if len(_ring_fds) == 2:
        _attach_ring(*_ring_fds)
    _apply_limits()
    _confine([int(fd) for fd in os.environ.pop("FARM_CGROUP_FDS", "").split(",") if fd])

import numpy as np  # noqa: E402  (after the stdout swap, on purpose)
from manim import config  # noqa: E402
from manim.renderer.cairo_renderer import CairoRenderer  # noqa: E402
from manim.scene.scene import Scene  # noqa: E402
from manim.scene.scene_file_writer import SceneFileWriter, get_full_sound_file_path  # noqa: E402

# ---------------------------------------------------------------- frame output


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
    started = time.perf_counter()
    if RING is not None and pixels.nbytes <= RING.slot_bytes:
        RING.write(pixels, width, height, repeat, float(config.frame_rate))
    else:
        FRAME_STREAM.write(b"FRAM" + struct.pack("<IIId", width, height, repeat, float(config.frame_rate)))
        FRAME_STREAM.write(memoryview(pixels).cast("B"))
    STAGES["pipe"] += time.perf_counter() - started
    STAGES["frames"] += repeat
    STAGES["writes"] += 1


def _finish(self):
    STAGES["total"] = time.perf_counter() - _STARTED[0]
    STAGES["cpu"] = time.process_time() - _STARTED[1]
    body = json.dumps(STAGES).encode()
    FRAME_STREAM.write(b"STAT" + struct.pack("<I", len(body)) + body)
    FRAME_STREAM.write(b"DONE" + struct.pack("<I", len(self.partial_movie_files)))
    FRAME_STREAM.flush()


def _save_image(self, pixels):
    # A scene without animations: Manim saves its one frame as a PNG; the farm takes the frame.
    if not self.output_spec.enabled:
        return
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim != 3 or pixels.shape[2] != 4:
        raise ValueError(f"a still of shape {pixels.shape}, not RGBA")
    height, width = pixels.shape[0], pixels.shape[1]
    FRAME_STREAM.write(b"STIL" + struct.pack("<IId", width, height, float(config.frame_rate)))
    FRAME_STREAM.write(memoryview(pixels).cast("B"))
    FRAME_STREAM.write(b"DONE" + struct.pack("<I", 0))
    FRAME_STREAM.flush()


def _nothing(self, *args, **kwargs):
    return None


def _never_cached(self, hash_invocation):
    return False


SceneFileWriter.open_partial_movie_stream = _open_partial_movie_stream
SceneFileWriter.close_partial_movie_stream = _close_partial_movie_stream
SceneFileWriter.write_frame = _write_frame
SceneFileWriter.finish = _finish
SceneFileWriter.save_image = _save_image
SceneFileWriter.is_already_cached = _never_cached
SceneFileWriter.join_all_encode_jobs = _nothing
SceneFileWriter.abort_encode_jobs = _nothing
SceneFileWriter.combine_to_movie = _nothing

# ---------------------------------------------------------------- LaTeX

import farm_tex  # noqa: E402  (times Manim's LaTeX and hands it from a video's plan to its renders; see the module)

farm_tex.install(STAGES, planning=lambda: PLANNING)

# ---------------------------------------------------------------- exact skipping


def _renderer_play(self, scene, *args, **kwargs):
    """CairoRenderer.play of Manim 0.22.0, with skipped animations stepped
    frame by frame (or, when planning, recorded) instead of jumped over."""
    started = time.perf_counter()
    if _FIRST_PLAY[0] is None:
        _FIRST_PLAY[0] = started
        STAGES["setup"] = started - _STARTED[0]
    self.skip_animations = self._original_skipping_status
    self.update_skipping_status()
    scene.compile_animation_data(*args, **kwargs)
    hash_current_animation = None if self.skip_animations else f"uncached_{self.num_plays:05}"
    if self.skip_animations and PLANNING:
        frames = _record_planned_animation(scene, self)
        # The clock advances as a render's would, so sounds are placed where the render places them:
        # a frame at a time for an animation, all frames in one step for a frozen frame.
        dt = 1 / self.camera.frame_rate
        if scene.is_current_animation_frozen_frame():
            self.time += frames * dt
        else:
            for _ in range(frames):
                self.time += dt
    self.file_writer.add_partial_movie_file(hash_current_animation)
    self.animations_hashes.append(hash_current_animation)
    self.file_writer.begin_animation(not self.skip_animations, animation_index=self.num_plays)
    scene.begin_animations()
    if self.skip_animations:
        self.static_image = None  # nothing is drawn, so no static layer either
    else:
        self.save_static_frame_data(scene, scene.static_mobjects)

    if scene.is_current_animation_frozen_frame():
        if not self.skip_animations:
            _draw(self, scene, scene.moving_mobjects, repeat=int(scene.duration / (1 / self.camera.frame_rate)))
        elif not PLANNING:
            # The clock advances exactly as add_frame would have advanced it.
            dt = 1 / self.camera.frame_rate
            self.time += int(scene.duration / dt) * dt
    else:
        scene.play_internal()
    self.file_writer.end_animation(not self.skip_animations)
    self.num_plays += 1
    if self.skip_animations and not PLANNING:
        STAGES["skip"] += time.perf_counter() - started


def _renderer_render(self, scene, at, moving_mobjects=None):
    if self.skip_animations:
        if not PLANNING:  # a plan advanced the clock for the whole animation already
            self.time += 1 * (1 / self.camera.frame_rate)  # what add_frame adds for one frame
        return
    _draw(self, scene, moving_mobjects, repeat=1)


def _draw(renderer, scene, mobjects, repeat):
    """Draws the frame and hands it over `repeat` times (a still stretch is drawn once).

    The camera's own array is handed over: the frame is written out before anything draws again,
    so Manim's copy of it (`get_frame`) would only cost a copy of every frame.
    """
    wall, cpu = time.perf_counter(), time.thread_time()
    renderer.update_frame(scene, mobjects)
    STAGES["draw"] += time.perf_counter() - wall
    STAGES["drawCPU"] += time.thread_time() - cpu
    if repeat > 0:
        renderer.add_frame(renderer.camera.pixel_array, num_frames=repeat)


_stock_time_progression = Scene.get_time_progression
_stock_play_internal = Scene.play_internal


def _time_progression(self, run_time, description, n_iterations=None, override_skip_animations=False):
    exact = self.renderer.skip_animations and not PLANNING
    return _stock_time_progression(self, run_time, description, n_iterations, override_skip_animations or exact)


def _play_internal(self, skip_rendering=False):
    _stock_play_internal(self, skip_rendering)
    if self.renderer.skip_animations and not PLANNING:
        self.update_mobjects(0)  # as the stock method does after a rendered animation


if os.environ.get("FARM_STOCK_SKIPPING") != "1":  # diagnostics: compare with Manim's own skipping
    CairoRenderer.play = _renderer_play
    CairoRenderer.render = _renderer_render
    Scene.get_time_progression = _time_progression
    Scene.play_internal = _play_internal

# ---------------------------------------------------------------- planning


def _record_planned_animation(scene, renderer):
    plan = scene.__dict__.setdefault("_farm_plan", {"animations": [], "sounds": False})
    fps = config.frame_rate
    if scene.is_current_animation_frozen_frame():
        frames = int(scene.duration / (1 / fps))
    else:
        frames = len(np.arange(0, scene.duration, 1 / fps))
    variable = scene.stop_condition is not None
    plan["animations"].append({"seconds": float(scene.duration), "frames": frames, "variable": variable})
    return frames


def _add_sound(self, sound_file, time_offset=0, gain=None, **kwargs):
    if PLANNING:
        # The file must be there (an asset), as a render would find out later: a missing sound fails the plan
        # with Manim's own error. The sound is noted where it starts on the scene's timeline, not read.
        get_full_sound_file_path(sound_file, config.assets_dir)
        plan = self.__dict__.setdefault("_farm_plan", {"animations": [], "sounds": False})
        plan["sounds"] = True
        plan.setdefault("soundEvents", []).append({
            "file": str(sound_file),
            "seconds": float(self.renderer.time + time_offset),
            "gain": None if gain is None else float(gain),
        })
        return
    # A render leaves the sound to the farm, which mixes the whole video's track once from the plan
    # (on an agent, with libav): reading it here would cost time and give nothing the output uses.
    # A missing file still fails the scene with Manim's own error, as a plain render would.
    get_full_sound_file_path(sound_file, config.assets_dir)


_stock_scene_finished = CairoRenderer.scene_finished


def _scene_finished(self, scene):
    if not PLANNING:
        return _stock_scene_finished(self, scene)
    plan = scene.__dict__.get("_farm_plan", {"animations": [], "sounds": False})
    plan["scene"] = type(scene).__name__
    generated = farm_voiceover.new_speech_files()
    tex = farm_tex.new_bundle(plan["scene"])
    if tex is not None:
        generated.append(tex)
    if generated:
        plan["generated"] = generated
    body = json.dumps(plan).encode()
    FRAME_STREAM.write(b"PLAN" + struct.pack("<I", len(body)) + body)
    FRAME_STREAM.flush()


Scene.add_sound = _add_sound
CairoRenderer.scene_finished = _scene_finished

# ---------------------------------------------------------------- narration

import farm_voiceover  # noqa: E402  (patches manim-voiceover as it loads; see the module)

# ---------------------------------------------------------------- outcomes

# The typed outcome of an exception the script raised, once Manim has caught it.
OUTCOME = None


def _outcome_of(error):
    """The exit status and one-line summary of an exception raised while rendering."""
    if isinstance(error, MemoryError):
        return OUT_OF_MEMORY, "MemoryError"
    if isinstance(error, FileNotFoundError) and os.path.basename(str(error.filename or "")) in TOOLS:
        return TOOL_MISSING, f"{os.path.basename(str(error.filename))} is not installed on this agent"
    summary = f"{type(error).__name__}: {error}".splitlines()[0] if str(error) else type(error).__name__
    return SCRIPT_RAISED, summary[:500]


def _note_exception(error):
    global OUTCOME
    if error is not None and OUTCOME is None:
        OUTCOME = _outcome_of(error)


# Manim's render command catches every exception from the script (module or construct), prints
# it and exits 1: note what it was first, where it is still an object and not text.
from manim.cli.render import commands as _render_commands  # noqa: E402

_stock_print_exception = _render_commands.error_console.print_exception


def _print_exception(*args, **kwargs):
    _note_exception(sys.exc_info()[1])
    return _stock_print_exception(*args, **kwargs)


_render_commands.error_console.print_exception = _print_exception

# ---------------------------------------------------------------- running


def _run_manim(argv):
    """Runs `manim ARGV` in this process; returns its exit status (see the outcome statuses above)."""
    global PLANNING
    PLANNING = os.environ.get("FARM_PLAN") == "1"
    from manim.__main__ import main

    code = 0
    try:
        main(args=argv, prog_name="manim", standalone_mode=True)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException as error:  # noqa: BLE001  (raised past Manim's own handler: still the script's)
        _note_exception(error)
        code = 1
    finally:
        try:
            FRAME_STREAM.flush()
        except (BrokenPipeError, ValueError):
            pass
    if code != 0 and OUTCOME is not None:
        code, summary = OUTCOME
        # The log's last line is the failure's message on the coordinator.
        print(summary, file=sys.stderr)
        sys.stderr.flush()
    return code


def serve():
    """A warm fork server: Manim is imported once, each task runs in a fresh fork.

    Requests arrive on the SOCK_SEQPACKET socket at fd 3 as JSON
    {"id", "argv", "cwd", "env"} carrying two descriptors (frame stream, log)
    and the task's cgroup.procs descriptors, or {"kill": pid, "signal"} to
    signal a child's process group.
    Replies: {"id", "pid"} once forked, {"pid", "status"} (a raw wait status)
    once that child has ended. The server exits when the agent closes the socket.
    """
    control = socket.socket(fileno=3)
    children = set()

    def report(message):
        control.send(json.dumps(message).encode())

    while True:
        readable, _, _ = select.select([control], [], [], 0.02 if children else 1.0)
        if readable:
            message, fds, _, _ = socket.recv_fds(control, 1 << 20, 8)
            if not message:
                for pid in children:
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                return
            request = json.loads(message)
            if "kill" in request:
                # Sandboxed, the server's pids are its own namespace's: only it can signal its children.
                if request["kill"] in children:
                    try:
                        os.killpg(request["kill"], request.get("signal", signal.SIGKILL))
                    except ProcessLookupError:
                        pass
                for fd in fds:
                    os.close(fd)
                continue
            pid = os.fork()
            if pid == 0:
                control.close()
                os._exit(_forked_child(request, fds))
            for fd in fds:
                os.close(fd)
            children.add(pid)
            report({"id": request["id"], "pid": pid})
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            children.discard(pid)
            report({"pid": pid, "status": status})


def _forked_child(request, fds):
    try:
        os.setpgid(0, 0)  # its own group, so the agent can kill it and its LaTeX at once
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(fds[1], 2)
        os.close(fds[1])
        _restart_clocks()
        _attach_streams(fds[0])
        os.chdir(request["cwd"])
        os.environ.update(request.get("env", {}))
        extra = fds[2:]
        if os.environ.pop("FARM_FRAME_RING", None) == "1":
            _attach_ring(extra[0], extra[1])
            extra = extra[2:]
        _apply_limits()
        _confine(extra)
        sys.argv = ["manim"] + request["argv"]
        code = _run_manim(request["argv"])
    except BaseException as error:  # noqa: BLE001  (the child must never return into the server loop)
        print(f"farm_shim: warm start failed: {error!r}", file=sys.stderr)
        code = 1
    sys.stderr.flush()
    return code


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        from manim.__main__ import main as _preload  # noqa: F401  (import the CLI before forking)

        serve()
    else:
        sys.exit(_run_manim(sys.argv[1:]))
