"""Narration for the farm's shim (imported by farm_shim.py).

Scripts written for manim-voiceover render unchanged. A speech service of the plugin's own (gTTS, pyttsx3, Azure,
OpenAI, ElevenLabs, ...) needs a network or, for pyttsx3 on Linux, writes WAV into files named .mp3 that the
plugin then cannot read; the farm speaks for them instead, offline, with its engine (espeak-ng by default), once
per (text, voice, engine): the planning pass synthesises every sentence into ./voiceovers (with the plugin's own
cache.json) and hands the files to the coordinator, which sends them with every range's task, so each range and
the sound track use the same audio and the same timing. A service the script defines itself runs as written.
"""

import base64
import hashlib
import importlib.abc
import importlib.machinery
import os
import subprocess
import sys

SPEECH_ENGINE = os.environ.get("FARM_SPEECH_ENGINE", "espeak-ng")
SPEECH_DIR = "voiceovers"
SPEECH_REPLACED = {"GTTSService", "PyTTSX3Service", "AzureService", "OpenAIService", "ElevenLabsService", "GeminiService",
                   "CoquiService"}
MAX_SPEECH_TEXT = 10_000
_REPORTED_SPEECH = set()


def _speech_voice(service):
    """The espeak-ng voice for a replaced service: its language where it names one, else English."""
    for name in ("lang", "language", "voice"):
        value = getattr(service, name, None) or getattr(service, "additional_kwargs", {}).get(name)
        if isinstance(value, str) and 0 < len(value) <= 20 and all(c.isalnum() or c == "-" for c in value):
            return value.lower()
    return "en"


def _patch_speech_base(base):
    """Every service keeps its files in ./voiceovers unless the script says otherwise, so that what the pass speaks
    is handed over (a service the script defines itself included)."""
    stock_init = base.SpeechService.__init__

    def speech_service_init(self, *args, **kwargs):
        if len(args) < 2 and kwargs.get("cache_dir") is None:
            kwargs["cache_dir"] = SPEECH_DIR
        stock_init(self, *args, **kwargs)

    base.SpeechService.__init__ = speech_service_init


def _replaced_init(self, *args, **kwargs):
    """A replaced service is only asked for its language: its own constructor (which would look for its library,
    a network or an API key) does not run."""
    self.additional_kwargs = dict(kwargs)
    self.global_speed = kwargs.get("global_speed", 1.0)
    for name in ("lang", "language", "voice"):
        if isinstance(kwargs.get(name), str):
            setattr(self, name, kwargs[name])


def _farm_speech_service(base):
    class FarmSpeechService(base.SpeechService):
        def __init__(self, voice, global_speed=1.0):
            base.SpeechService.__init__(self, global_speed=global_speed, cache_dir=SPEECH_DIR)
            self.voice = voice

        def generate_from_text(self, text, cache_dir=None, path=None, **kwargs):
            cache_dir = cache_dir or self.cache_dir
            input_data = {"input_text": text, "service": "farm", "engine": SPEECH_ENGINE, "voice": self.voice}
            cached = self.get_cached_result(input_data, cache_dir)
            if cached is not None:
                return cached
            if len(text) > MAX_SPEECH_TEXT:
                raise ValueError(f"a voiceover of {len(text)} characters; the farm speaks at most {MAX_SPEECH_TEXT} at once")
            audio = self.get_audio_basename(input_data) + ".wav" if path is None else str(path)
            try:
                # The text goes on stdin: whatever it holds, it is never an option or a file name.
                subprocess.run([SPEECH_ENGINE, "-v", self.voice, "-w", os.path.join(str(cache_dir), audio), "--stdin"],
                               input=text.encode(), check=True, capture_output=True, timeout=120)
            except FileNotFoundError:
                raise RuntimeError(f"the speech engine {SPEECH_ENGINE} is not installed on this agent") from None
            except subprocess.CalledProcessError as error:
                raise RuntimeError(f"{SPEECH_ENGINE} could not speak the text: {error.stderr.decode(errors='replace')[-500:]}") from None
            return {"input_text": text, "input_data": input_data, "original_audio": audio}

    return FarmSpeechService


def _patch_voiceover_scene(module):
    base = sys.modules["manim_voiceover.services.base"]
    farm_service = _farm_speech_service(base)
    stock = module.VoiceoverScene.set_speech_service

    def set_speech_service(self, speech_service, *args, **kwargs):
        if type(speech_service).__name__ in SPEECH_REPLACED:
            speech_service = farm_service(_speech_voice(speech_service), getattr(speech_service, "global_speed", 1.0))
        return stock(self, speech_service, *args, **kwargs)

    module.VoiceoverScene.set_speech_service = set_speech_service


def _voiceover_imported(name, module):
    if name == "manim_voiceover.services.base":
        _patch_speech_base(module)
    elif name == "manim_voiceover.voiceover_scene":
        _patch_voiceover_scene(module)
    elif name.startswith("manim_voiceover.services."):
        for replaced in SPEECH_REPLACED:
            service_class = getattr(module, replaced, None)
            if isinstance(service_class, type):
                service_class.__init__ = _replaced_init


class _VoiceoverImports(importlib.abc.MetaPathFinder):
    """Patches manim-voiceover's modules as they are imported (a script may make its service at module level)."""

    def find_spec(self, fullname, path, target=None):
        if not fullname.startswith("manim_voiceover"):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        stock_exec = spec.loader.exec_module

        def exec_module(module):
            stock_exec(module)
            _voiceover_imported(fullname, module)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _VoiceoverImports())
# Manim may have loaded the plugin already (as a plugin, or in the warm server): patch what is there.
for _name in sorted((n for n in list(sys.modules) if n.startswith("manim_voiceover")),
                    key=lambda n: (n != "manim_voiceover.services.base", n)):
    _voiceover_imported(_name, sys.modules[_name])


def new_speech_files():
    """Files the planning pass's speech left in ./voiceovers since the last scene, as the plan hands them over."""
    if not os.path.isdir(SPEECH_DIR):
        return []
    files = []
    for name in sorted(os.listdir(SPEECH_DIR)):
        path = os.path.join(SPEECH_DIR, name)
        if os.path.islink(path) or not os.path.isfile(path):
            continue  # only files the pass wrote: a link would hand over whatever it points at
        with open(path, "rb") as handle:
            data = handle.read()
        key = (name, hashlib.sha256(data).hexdigest())
        if key in _REPORTED_SPEECH:
            continue
        _REPORTED_SPEECH.add(key)
        files.append({"name": f"{SPEECH_DIR}/{name}", "data": base64.b64encode(data).decode()})
    return files
