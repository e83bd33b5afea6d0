"""Lists the Manim scenes of a script without running it.

Reads the script on stdin, parses it with `ast` (nothing is imported or
executed) and prints JSON: {"scenes": [{"name", "line", "requiresLaTeX",
"fingerprint"}]} in definition order, or {"error": {"line", "column",
"message"}} for a syntax error.

A scene's fingerprint hashes the source it can depend on: every top-level
statement except the other scenes' classes (its own in-file ancestors, and
scenes it names, are kept). Editing one scene changes only its fingerprint,
so the render cache re-renders only that scene.

Scripts come from strangers, so the work is linear in the script's size (one
walk of each top-level statement, one hash of each, a dependency graph whose
strongly connected components are hashed once each) and the process limits
its own CPU time and memory before it reads anything.
"""

import ast
import hashlib
import json
import resource
import sys

CPU_SECONDS = 10
MEMORY_BYTES = 1 << 30

SCENE_BASES = {
    "Scene", "ThreeDScene", "MovingCameraScene", "ZoomedScene", "VectorScene",
    "LinearTransformationScene", "SpecialThreeDScene",
    # manim-voiceover's narrated scene (in the locked environment).
    "VoiceoverScene",
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


def statement_digests(tree, raw):
    """SHA-256 of each top-level statement's source (ast offsets count UTF-8 bytes)."""
    offsets = [0]
    for line in raw.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    return [
        hashlib.sha256(raw[offsets[node.lineno - 1] + node.col_offset:offsets[node.end_lineno - 1] + node.end_col_offset]).digest()
        for node in tree.body
    ]


def discover(source):
    tree = ast.parse(source)
    text = source.decode("utf-8", errors="replace") if isinstance(source, bytes) else source
    digests = statement_digests(tree, text.encode())
    classes = {}       # name -> the last definition's facts
    order = []
    helpers_use_tex = False
    shared = hashlib.sha256()  # every statement that is not a scene class, in file order
    for position, node in enumerate(tree.body):
        if isinstance(node, ast.ClassDef):
            bases = [name for name in map(base_name, node.bases) if name]
            parents = [classes[b] for b in bases if b in classes]
            is_scene = any(b in SCENE_BASES for b in bases) or any(p["scene"] for p in parents)
            defines_construct = any(
                isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == "construct"
                for item in node.body)
            names = names_in(node)
            info = {
                "name": node.name,
                "line": node.lineno,
                "bases": bases,
                "names": names,
                "positions": [position],
                "scene": is_scene,
                "construct": defines_construct or any(p["construct"] for p in parents),
                "tex": bool(names & TEX_NAMES) or any(p["tex"] for p in parents),
            }
            if node.name in classes:
                info["positions"] = classes[node.name]["positions"] + [position]
            classes[node.name] = info
            order.append(info)
            if not is_scene:
                helpers_use_tex = helpers_use_tex or info["tex"]
                shared.update(digests[position])
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Assign)):
            helpers_use_tex = helpers_use_tex or bool(names_in(node) & TEX_NAMES)
        shared.update(digests[position])
    fingerprints = class_fingerprints(classes, digests, shared.digest())
    scenes = []
    for info in order:
        # A scene class with no construct anywhere in its in-file ancestry renders
        # nothing: it is a base for other scenes, not a scene of the video.
        if info["scene"] and info["construct"] and classes[info["name"]] is info:
            scenes.append({"name": info["name"], "line": info["line"], "requiresLaTeX": info["tex"] or helpers_use_tex,
                           "fingerprint": fingerprints[info["name"]]})
    return scenes


def class_fingerprints(classes, digests, shared):
    """A class's fingerprint covers the shared statements, its own source and
    every class it can reach through its bases and the names it uses. Classes
    that reach each other form one component, hashed once; a component's
    digest covers its successors' digests, so each edge is followed once."""
    edges = {name: sorted({b for b in info["bases"] if b in classes} | {n for n in info["names"] if n in classes})
             for name, info in classes.items()}
    component = {}
    component_digest = []
    index = {}
    low = {}
    stack = []
    on_stack = set()
    counter = 0
    for root in classes:
        if root in index:
            continue
        # Tarjan's algorithm without recursion: scripts may nest deeper than Python's stack.
        work = [(root, 0)]
        while work:
            name, next_edge = work.pop()
            if next_edge == 0:
                index[name] = low[name] = counter
                counter += 1
                stack.append(name)
                on_stack.add(name)
            successors = edges[name]
            if next_edge < len(successors):
                work.append((name, next_edge + 1))
                target = successors[next_edge]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[name] = min(low[name], index[target])
                continue
            if low[name] == index[name]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == name:
                        break
                number = len(component_digest)
                for member in members:
                    component[member] = number
                digest = hashlib.sha256()
                for position in sorted(p for member in members for p in classes[member]["positions"]):
                    digest.update(digests[position])
                successors_digests = sorted({component_digest[component[t]] for member in members
                                             for t in edges[member] if component[t] != number})
                for successor in successors_digests:
                    digest.update(successor)
                component_digest.append(digest.digest())
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[name])
    return {name: hashlib.sha256(shared + component_digest[component[name]]).hexdigest() for name in classes}


def limit_resources():
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS + 1))
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def main():
    limit_resources()
    source = sys.stdin.buffer.read()
    try:
        result = {"scenes": discover(source)}
    except SyntaxError as error:
        result = {"error": {"line": error.lineno or 0, "column": error.offset or 0, "message": error.msg}}
    except (ValueError, RecursionError, MemoryError) as error:
        result = {"error": {"line": 0, "column": 0, "message": str(error) or type(error).__name__}}
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
