"""Prints the installed Manim's public API as JSON, for the system prompt of script generation.

Run by an agent with its own Python when the coordinator asks (`DescribeManim`; never with a user's code): the
names a generated script may use are the ones the agents' Manim exports, not a list written by hand for another
version, nor the coordinator's (which runs no Manim).
"""
import inspect
import json
import sys


def signature(obj):
    """`(radius=None, color=RED, **kwargs)`, shortened: parameter names and short defaults only."""
    try:
        parameters = inspect.signature(obj).parameters.values()
    except (TypeError, ValueError):
        return "(...)"
    parts = []
    for parameter in parameters:
        if parameter.name == "self":
            continue
        if parameter.kind == parameter.VAR_POSITIONAL:
            parts.append("*" + parameter.name)
        elif parameter.kind == parameter.VAR_KEYWORD:
            parts.append("**" + parameter.name)
        elif parameter.default is parameter.empty:
            parts.append(parameter.name)
        else:
            default = "%g" % parameter.default if isinstance(parameter.default, float) else repr(parameter.default)
            parts.append(parameter.name + ("=" + default if len(default) <= 24 else ""))
    text = "(" + ", ".join(parts) + ")"
    # The farm's protocol holds each entry to 400 bytes; the first parameters are the ones scripts pass.
    return text if len(text) <= 300 else text[:text.rfind(", ", 0, 290)] + ", ...)"


def main():
    import manim

    sections = {"scenes": [], "mobjects": [], "animations": [], "other classes": [], "functions": [], "constants": []}
    for name in sorted(dir(manim)):
        if name.startswith("_"):
            continue
        obj = getattr(manim, name)
        if inspect.ismodule(obj):
            continue
        if inspect.isclass(obj):
            if issubclass(obj, manim.Scene):
                sections["scenes"].append(name)
            elif issubclass(obj, manim.Animation):
                sections["animations"].append(name + signature(obj.__init__))
            elif issubclass(obj, manim.Mobject):
                sections["mobjects"].append(name + signature(obj.__init__))
            else:
                sections["other classes"].append(name)
        elif callable(obj):
            sections["functions"].append(name + signature(obj))
        else:
            sections["constants"].append(name)
    json.dump({"version": manim.__version__, "sections": sections}, sys.stdout)


if __name__ == "__main__":
    main()
