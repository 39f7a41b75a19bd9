"""Audio guidance for citizens who cannot read the screen (EN 301 549 5.1.3).

`Speaker.say()` stops whatever is playing, synthesises the text with espeak-ng in a worker
thread (Latin-American Spanish by default, the voice following the UI language) and plays it
on the UI thread. Any touch calls `stop()`; `repeat()` says the last text again; masked input
(PINs, card data) is never spoken. `reset()` at session end turns audio off again.

The player and the thread hops are injected, so this module has no Kivy and tests need no
sound card: the app passes a Kivy SoundLoader player and a Clock-based `call_soon`.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from kiosk.core.errors import ShellError
from kiosk.core.i18n import VOICES
from kiosk.core.logs import event
from kiosk.core.threads import CallSoon, Runner, run_in_thread

log = logging.getLogger("kiosk.shell.speech")
SYNTH_TIMEOUT_S = 5.0
SPEECH_RATE_WPM = 150  # espeak's default is 175; slower is easier for older listeners


class Player(Protocol):
    def play(self, wav: Path) -> None: ...
    def stop(self) -> None: ...


class SpeechUnavailable(ShellError, RuntimeError):
    code = "speech.unavailable"


class EspeakSynthesizer:
    """Text to a WAV file with espeak-ng, cached per (voice, text) in a private directory."""

    def __init__(self, executable: str | None = None, cache_dir: Path | None = None):
        self.executable = executable or shutil.which("espeak-ng") or ""
        self._cache = cache_dir or Path(tempfile.mkdtemp(prefix="kiosk-speech-"))

    @property
    def available(self) -> bool:
        return bool(self.executable)

    def __call__(self, text: str, language: str) -> Path:
        if not self.available:
            raise SpeechUnavailable("espeak-ng is not installed")
        voice = VOICES.get(language, language)
        key = hashlib.sha256(f"{voice}\0{text}".encode()).hexdigest()[:32]
        wav = self._cache / f"{key}.wav"
        if not wav.exists():
            partial = wav.with_suffix(".part")
            subprocess.run(
                [self.executable, "-v", voice, "-s", str(SPEECH_RATE_WPM), "-w", str(partial), "--", text],
                check=True, timeout=SYNTH_TIMEOUT_S, capture_output=True,
            )
            partial.replace(wav)
        return wav

    def forget(self) -> None:
        """Drop cached audio: it may hold what the last citizen heard."""
        for wav in self._cache.glob("*.wav"):
            wav.unlink(missing_ok=True)


class Speaker:
    def __init__(self, synthesize: Callable[[str, str], Path], player: Player,
                 call_soon: CallSoon,
                 run_in_background: Runner = run_in_thread):
        self._synthesize = synthesize
        self._player = player
        self._call_soon = call_soon
        self._run = run_in_background
        self.enabled = False
        self.language = "es"
        self.last_text = ""
        self._generation = 0  # bumped by every say/stop: late syntheses of old text are dropped

    def attach(self, player: Player, call_soon: CallSoon) -> None:
        """Connect the real output and the UI thread once the app exists."""
        self._player = player
        self._call_soon = call_soon

    def enable(self, on: bool) -> None:
        self.enabled = on
        if not on:
            self.stop()

    def say(self, text: str, masked: bool = False) -> None:
        self.stop()
        if masked or not text.strip():
            return  # masked entry is never spoken (EN 301 549 5.1.3.8)
        self.last_text = text
        if self.enabled:
            self._speak(text)

    def repeat(self) -> None:
        self.stop()
        if self.enabled and self.last_text:
            self._speak(self.last_text)

    def stop(self) -> None:
        self._generation += 1
        self._player.stop()

    def reset(self, language: str) -> None:
        self.enable(False)
        self.last_text = ""
        self.language = language

    def _speak(self, text: str) -> None:
        generation = self._generation
        language = self.language

        def synthesise() -> None:
            try:
                wav = self._synthesize(text, language)
            except (OSError, subprocess.SubprocessError, SpeechUnavailable) as error:
                event(log, "speech.failed", level=logging.WARNING, reason=type(error).__name__)
                return
            self._call_soon(lambda: self._play_if_current(generation, wav))

        self._run(synthesise)

    def _play_if_current(self, generation: int, wav: Path) -> None:
        if generation == self._generation and self.enabled:
            self._player.play(wav)
