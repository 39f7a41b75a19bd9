"""`kiosk demo` on a desktop: the same app in an ordinary window that closes like any window
(kiosk.ui.kivyenv plans it; kiosk.ui.app lets it go). A kiosk's window refuses (tests/ui/test_shell.py)."""

from __future__ import annotations

from kivy.core.window import Window


def test_a_desktop_window_closes_with_its_button_escape_and_ctrl_q(app, monkeypatch):
    stopped: list[str] = []
    monkeypatch.setattr(app, "stop", lambda *_args: stopped.append("stop"))  # the real one ends this window
    app.locked = False  # as run_kiosk builds it for a desktop window
    assert not Window.dispatch("on_request_close")  # the close button: not refused, so SDL closes it
    assert Window.dispatch("on_keyboard", 27, 41, None, []) is True  # Escape
    assert Window.dispatch("on_keyboard", 113, 20, "q", ["ctrl"]) is True  # Ctrl+Q
    assert stopped == ["stop", "stop"]
    assert not Window.dispatch("on_keyboard", 97, 4, "a", [])  # other keys are left alone
    assert stopped == ["stop", "stop"]


def test_a_kiosk_window_still_refuses(app, monkeypatch):
    stopped: list[str] = []
    monkeypatch.setattr(app, "stop", lambda *_args: stopped.append("stop"))
    assert app.locked
    assert Window.dispatch("on_request_close") is True
    assert Window.dispatch("on_keyboard", 113, 20, "q", ["ctrl"]) is True and stopped == []
