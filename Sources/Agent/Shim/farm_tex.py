"""LaTeX for ManimFarm's shim: timed, and compiled once per video.

A video's planning pass compiles every expression anyway (constructing a MathTex needs its SVG). Each scene's
plan hands the SVGs over as one generated file, `farm-tex/<digest of the scene's name>.json` ({svg name: svg
text}), which then travels with every render task of the video like a submitted file. A render finds an
expression's SVG there by the name Manim gives it (a hash of the whole TeX source, template included) and
compiles only what is missing. The SVGs come from the same video's script, so a script can only ever feed its
own renders; the farm keeps `farm-tex/` to itself (submissions may not use it).

Pinned to Manim 0.22.0's `tex_file_writing` and `tex_mobject`, like the shim.
"""

import base64
import hashlib
import json
import os
import re
import time

from manim import config
from manim.mobject.text import tex_mobject as _tex_mobject
from manim.utils import tex_file_writing as _tex_writing

FOLDER = "farm-tex"
SVG_NAME = re.compile(r"^[0-9a-f]{8,64}\.svg$")
SCENE_BYTES = 1 << 20  # per scene; the renders compile the rest again

_stages = {}
_planning = lambda: False  # noqa: E731
_shipped = None
_reported = set()
_stock_tex_to_svg_file = _tex_mobject.tex_to_svg_file


def install(stages, planning):
    """Times LaTeX into `stages` (the shim's STAGES) and reuses what the plan compiled unless `planning()`."""
    global _stages, _planning
    _stages, _planning = stages, planning
    _tex_writing.compile_tex = _timed(_tex_writing.compile_tex, counts=True)
    _tex_writing.convert_to_svg = _timed(_tex_writing.convert_to_svg, counts=False)
    _tex_mobject.tex_to_svg_file = _tex_to_svg_file


def _timed(step, counts):
    def timed(*args, **kwargs):
        wall, children = time.perf_counter(), os.times()
        try:
            return step(*args, **kwargs)
        finally:
            after = os.times()
            _stages["latex"] += time.perf_counter() - wall
            _stages["latexCPU"] += (after.children_user - children.children_user) + (after.children_system - children.children_system)
            if counts:
                _stages["latexCompiles"] += 1

    return timed


def _shipped_svgs():
    """The SVGs the planning pass handed over, {name: text}, read once."""
    global _shipped
    if _shipped is None:
        _shipped = {}
        if os.path.isdir(FOLDER):
            for entry in sorted(os.listdir(FOLDER)):
                try:
                    with open(os.path.join(FOLDER, entry), encoding="utf-8") as bundle:
                        found = json.load(bundle)
                except (OSError, ValueError):
                    continue  # not one of ours: the render compiles what it needs
                if isinstance(found, dict):
                    _shipped.update({k: v for k, v in found.items() if isinstance(v, str) and SVG_NAME.match(k)})
    return _shipped


def _tex_to_svg_file(expression, environment=None, tex_template=None):
    _stages["texCalls"] += 1
    if not _planning() and _shipped_svgs():
        tex_file = _tex_writing.generate_tex_file(expression, environment, tex_template or config["tex_template"])
        svg_file = tex_file.with_suffix(".svg")
        shipped = _shipped_svgs().get(svg_file.name)
        if shipped is not None and not svg_file.exists():
            svg_file.write_text(shipped, encoding="utf-8")
    return _stock_tex_to_svg_file(expression, environment=environment, tex_template=tex_template)


def new_bundle(scene_name):
    """The SVGs this planning pass compiled since the last scene, as a generated file (or None)."""
    folder = config.get_dir("tex_dir")
    if not os.path.isdir(folder):
        return None
    bundle, size = {}, 0
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name in _reported or not SVG_NAME.match(name) or os.path.islink(path) or not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as svg:
                text = svg.read()
        except (OSError, ValueError):
            continue
        if size + len(text) > SCENE_BYTES:
            break
        _reported.add(name)
        bundle[name] = text
        size += len(text)
    if not bundle:
        return None
    data = json.dumps(bundle, sort_keys=True).encode()
    # Named by a digest of the scene's name: a class name may hold what an asset's name may not.
    digest = hashlib.sha256(scene_name.encode()).hexdigest()[:16]
    return {"name": f"{FOLDER}/{digest}.json", "data": base64.b64encode(data).decode()}
