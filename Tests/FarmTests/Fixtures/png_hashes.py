"""Prints the SHA-256 of every PNG frame in a folder (sorted by name), over its RGBA pixels as the shim streams them.

Usage: png_hashes.py FOLDER PREFIX
"""
import hashlib
import pathlib
import sys

from PIL import Image

folder, prefix = pathlib.Path(sys.argv[1]), sys.argv[2]
for path in sorted(folder.glob(f"{prefix}*.png")):
    with Image.open(path) as image:
        print(hashlib.sha256(image.convert("RGBA").tobytes()).hexdigest())
