"""Lists the Manim scenes of a script without running it.

Reads the script on stdin, parses it with `ast` (nothing is imported or
executed) and prints JSON: {"scenes": [{"name", "line", "requiresLaTeX",
"fingerprint"}]} in definition order, or {"error": {"line", "column",
"message"}} for a syntax error.

A scene's fingerprint hashes the source it can depend on: every top-level
statement except the other scenes' classes (its own in-file ancestors, and
scenes it names, are kept). Editing one scene changes only its fingerprint,
so the render cache re-renders only that scene.
"""

import ast
import hashlib
import json
import sys

SCENE_BASES = {
    "Scene", "ThreeDScene", "MovingCameraScene", "ZoomedScene", "VectorScene",
    "LinearTransformationScene", "SpecialThreeDScene",
}

# Names whose use means LaTeX runs: TeX mobjects and the helpers that build them.
TEX_NAMES = {
    "MathTex", "Tex", "SingleStringMathTex", "TexTemplate", "Title", "BulletedList",
    "DecimalNumber", "Integer", "Variable", "Matrix", "IntegerMatrix", "DecimalMatrix",
    "MobjectMatrix", "BraceLabel", "BraceText", "ChangingDecimal", "ChangeDecimalToValue",
    "BarChart", "add_coordinates", "get_axis_labels", "get_x_axis_label", "get_y_axis_label",
    "get_graph_label", "add_numbers", "include_numbers", "numbers_to_include", "get_area_label",
    "get_riemann_rectangles_label", "tex_to_color_map", "MathTable", "DecimalTable", "IntegerTable",
}


def base_name(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def names_in(node):
    found = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(child.attr)
        elif isinstance(child, ast.keyword) and child.arg:
            found.add(child.arg)
        elif isinstance(child, ast.Constant) and isinstance(child.value, str):
            found.add(child.value)
    return found


def discover(source):
    tree = ast.parse(source)
    text = source.decode("utf-8", errors="replace") if isinstance(source, bytes) else source
    classes = {}
    order = []
    helpers = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            bases = [name for name in map(base_name, node.bases) if name]
            is_scene = any(b in SCENE_BASES or (b in classes and classes[b]["scene"]) for b in bases)
            defines_construct = any(
                isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == "construct"
                for item in node.body)
            parents = [classes[b] for b in bases if b in classes]
            info = {
                "node": node,
                "bases": bases,
                "name": node.name,
                "line": node.lineno,
                "scene": is_scene,
                "construct": defines_construct or any(p["construct"] for p in parents),
                "names": names_in(node).union(*[p["names"] for p in parents]) if parents else names_in(node),
            }
            classes[node.name] = info
            order.append(info)
            if not is_scene:
                helpers |= info["names"]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Assign)):
            helpers |= names_in(node)
    # Hash each top-level statement once (ast offsets count UTF-8 bytes); a fingerprint combines the kept ones.
    raw = text.encode()
    offsets = [0]
    for line in raw.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    node_digests = [
        hashlib.sha256(raw[offsets[node.lineno - 1] + node.col_offset:offsets[node.end_lineno - 1] + node.end_col_offset]).digest()
        for node in tree.body
    ]
    scenes = []
    for info in order:
        # A scene class with no construct anywhere in its in-file ancestry renders
        # nothing: it is a base for other scenes, not a scene of the video.
        if info["scene"] and info["construct"]:
            needs_tex = bool((info["names"] | helpers) & TEX_NAMES)
            scenes.append({"name": info["name"], "line": info["line"], "requiresLaTeX": needs_tex,
                           "fingerprint": fingerprint(tree, node_digests, classes, info)})
    return scenes


def fingerprint(tree, node_digests, classes, scene):
    kept = set()
    pending = [scene["name"]]
    while pending:
        name = pending.pop()
        if name in kept or name not in classes:
            continue
        kept.add(name)
        pending += classes[name]["bases"]
        pending += [other for other in classes if other in classes[name]["names"]]
    digest = hashlib.sha256()
    for node, node_digest in zip(tree.body, node_digests):
        if isinstance(node, ast.ClassDef) and classes[node.name]["scene"] and node.name not in kept:
            continue
        digest.update(node_digest)
    return digest.hexdigest()


def main():
    source = sys.stdin.buffer.read()
    try:
        result = {"scenes": discover(source)}
    except SyntaxError as error:
        result = {"error": {"line": error.lineno or 0, "column": error.offset or 0, "message": error.msg}}
    except (ValueError, RecursionError) as error:
        result = {"error": {"line": 0, "column": 0, "message": str(error)}}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
