"""Speech: interruptible, repeatable, never speaks masked input, voice follows the language."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import pytest

from kiosk.shell.speech import EspeakSynthesizer, Speaker


class RecordingPlayer:
    def __init__(self):
        self.events: list[tuple[str, str]] = []

    def play(self, wav: Path) -> None:
        self.events.append(("play", wav.name))

    def stop(self) -> None:
        self.events.append(("stop", ""))


def make_speaker():
    said: list[tuple[str, str]] = []

    def synthesize(text: str, language: str) -> Path:
        said.append((text, language))
        return Path(f"{language}-{len(said)}.wav")

    player = RecordingPlayer()
    speaker = Speaker(synthesize, player, call_soon=lambda work: work(), run_in_background=lambda work: work())
    return speaker, player, said


def test_nothing_is_spoken_until_audio_is_on():
    speaker, player, said = make_speaker()
    speaker.say("Pagar. Predial, agua y multas.")
    assert said == [] and ("play", "es-1.wav") not in player.events
    speaker.enable(True)
    speaker.repeat()
    assert said == [("Pagar. Predial, agua y multas.", "es")]
    assert player.events[-1] == ("play", "es-1.wav")


def test_every_utterance_stops_the_previous_one_first():
    speaker, player, _ = make_speaker()
    speaker.enable(True)
    speaker.say("uno")
    speaker.say("dos")
    assert player.events[-3:] == [("play", "es-1.wav"), ("stop", ""), ("play", "es-2.wav")]


def test_masked_input_is_never_spoken_nor_kept_for_repeat():
    speaker, _, said = make_speaker()
    speaker.enable(True)
    speaker.say("Clave catastral")
    speaker.say("1234", masked=True)
    speaker.repeat()
    assert [text for text, _ in said] == ["Clave catastral", "Clave catastral"]


def test_a_late_synthesis_is_dropped_when_the_citizen_touched_meanwhile():
    pending = []
    player = RecordingPlayer()
    speaker = Speaker(lambda text, language: Path("late.wav"), player, call_soon=lambda work: work(),
                      run_in_background=pending.append)
    speaker.enable(True)
    speaker.say("texto largo")
    speaker.stop()  # a touch arrives before synthesis finished
    pending.pop()()
    assert ("play", "late.wav") not in player.events


def test_voice_follows_language_and_reset_turns_audio_off():
    speaker, _, said = make_speaker()
    speaker.enable(True)
    speaker.language = "en"
    speaker.say("Pay")
    assert said[-1] == ("Pay", "en")
    speaker.reset("es")
    assert not speaker.enabled and speaker.last_text == "" and speaker.language == "es"


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (scripts/apt-packages.txt)")
def test_espeak_renders_latin_american_spanish_to_a_wav(tmp_path):
    synthesize = EspeakSynthesizer(cache_dir=tmp_path)
    wav = synthesize("Trámite de predial, señora.", "es")
    with wave.open(str(wav)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    assert 0.8 < seconds < 10
    again = synthesize("Trámite de predial, señora.", "es")
    assert again == wav  # cached
    english = synthesize("Trámite de predial, señora.", "en")
    assert english != wav
    synthesize.forget()
    assert not list(tmp_path.glob("*.wav"))
