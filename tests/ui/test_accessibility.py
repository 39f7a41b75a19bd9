"""Audio guidance, text size and high contrast, driven by touches; all reset for the next citizen."""

from __future__ import annotations

from pathlib import Path

from kiosk.core.theme import HIGH_CONTRAST, STANDARD, TEXT_SCALES
from tests.ui.conftest import wake


class RecordingPlayer:
    def __init__(self):
        self.events: list[str] = []

    def play(self, wav: Path) -> None:
        assert wav.stat().st_size > 1000  # real espeak-ng audio
        self.events.append("play")

    def stop(self) -> None:
        self.events.append("stop")


def attach_player(app) -> RecordingPlayer:
    from kivy.clock import Clock

    player = RecordingPlayer()
    app.ctx.speaker.attach(player, call_soon=lambda work: Clock.schedule_once(lambda _dt: work(), 0))
    return player


def test_audio_speaks_the_screen_and_a_touch_interrupts_it(app, ui):
    player = attach_player(app)
    wake(ui)
    ui.tap(ui.find(id="audio_button"))
    assert ui.find(id="audio_button").text == "Silenciar"
    assert ui.find(id="repeat_button")  # visible once audio is on
    spoken = app.ctx.speaker.last_text
    assert "¿Qué necesita hacer?" in spoken and "Pagar" in spoken and "Predial, agua y multas" in spoken
    ui.pump_until(lambda: "play" in player.events)
    ui.tap_at(5, 900)  # a touch on nothing in particular
    assert player.events[-1] == "stop"


def test_speech_follows_navigation_and_language(app, ui):
    player = attach_player(app)
    wake(ui)
    ui.tap(ui.find(id="audio_button"))
    ui.tap(ui.find(id="language_button"))
    assert app.ctx.speaker.language == "en"
    assert "What do you need to do?" in app.ctx.speaker.last_text
    ui.tap(ui.find(contains="Pay"))
    assert app.ctx.speaker.last_text.startswith("Pay")
    ui.tap(ui.find(id="repeat_button"))
    ui.pump_until(lambda: player.events.count("play") >= 2)


def test_text_size_and_contrast_change_live_and_reset_with_the_session(app, ui, clock, config):
    wake(ui)
    normal_title = app.screens["home"].ids.title.font_size
    ui.tap(ui.find(id="display_button"))
    ui.tap(ui.find(id="text_larger"))
    ui.tap(ui.find(id="contrast_on"))
    ui.tap(ui.find(id="done_button"))
    assert app.theme.text_scale == TEXT_SCALES[2] and app.theme.palette is HIGH_CONTRAST
    assert app.screens["home"].ids.title.font_size >= normal_title * 1.4
    ui.tap(ui.find(id="audio_button"))
    clock.advance(config.kiosk.idle_timeout_s + config.kiosk.idle_warning_s + 1)
    ui.pump_until(lambda: app.root.manager.current == "attract")
    assert app.theme.text_scale == 1.0 and app.theme.palette is STANDARD
    assert not app.ctx.speaker.enabled
    assert "Pagar" not in app.ctx.speaker.last_text  # "repeat" cannot replay the last citizen's screen
    wake(ui)
    assert ui.find(id="audio_button").text == "Escuchar"
    assert app.screens["home"].ids.title.font_size == normal_title
