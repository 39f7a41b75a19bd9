"""One citizen's visit, from the first touch to the wipe.

Everything a citizen leaves behind (language, path, what they typed, a help request, identity
read from a card) lives in `Session` or in the views, and `SessionController.end()` discards all
of it: a new empty Session, the default language, the attract screen, and every listener (the
views) told to clear itself. Nothing of the previous citizen survives into the next session.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiosk.core.i18n import Translator
from kiosk.core.logs import event
from kiosk.shell.idle import IdleMonitor
from kiosk.shell.navigation import HOME, Navigator

log = logging.getLogger("kiosk.shell.session")


@dataclass
class Accessibility:
    """What a citizen turned on to use the kiosk; back to defaults for the next one."""

    audio: bool = False
    text_step: int = 0  # index into kiosk.core.theme.TEXT_SCALES
    high_contrast: bool = False


@dataclass
class Session:
    language: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: float = field(default_factory=time.monotonic)
    data: dict[str, Any] = field(default_factory=dict)
    accessibility: Accessibility = field(default_factory=Accessibility)
    touches: int = 0

    @property
    def active(self) -> bool:
        return self.touches > 0


class SessionController:
    def __init__(self, default_language: str, translator: Translator, navigator: Navigator, idle: IdleMonitor):
        self.default_language = default_language
        self.translator = translator
        self.navigator = navigator
        self.idle = idle
        self.session = Session(language=default_language)
        self._wipe_listeners: list[Callable[[], None]] = []
        self._begin_listeners: list[Callable[[], None]] = []
        self._end_listeners: list[Callable[[str], None]] = []

    def on_wipe(self, listener: Callable[[], None]) -> None:
        self._wipe_listeners.append(listener)

    def on_begin(self, listener: Callable[[], None]) -> None:
        self._begin_listeners.append(listener)

    def on_end(self, listener: Callable[[str], None]) -> None:
        """After the wipe: listener(reason), e.g. for the fleet's session counters."""
        self._end_listeners.append(listener)

    def begin(self) -> None:
        """The first touch on the attract screen: it wakes the kiosk and does nothing else."""
        self.session = Session(language=self.default_language)
        self.session.touches = 1
        self.idle.start()
        self.navigator.home()
        event(log, "session.started", session=self.session.id[:8])
        for listener in list(self._begin_listeners):
            listener()

    def touched(self) -> None:
        self.session.touches += 1
        self.idle.touch()

    def set_language(self, language: str) -> bool:
        """Switch the citizen's language; refused while a payment holds the screen (its texts and
        the money on it stay as they are until it ends)."""
        if self.navigator.held:
            return False
        self.session.language = language
        self.translator.switch(language)
        return True

    def end(self, reason: str) -> bool:
        """Wipe every trace of the citizen and return to the attract screen. Refused while money
        can still come in (a payment holds the navigator): the payment ends first, by itself."""
        if self.navigator.held:
            event(log, "session.end_refused", reason=reason, held="payment")
            return False
        ended = self.session
        self.idle.stop()
        self.session = Session(language=self.default_language)
        self.translator.switch(self.default_language)
        for listener in list(self._wipe_listeners):
            listener()
        self.navigator.reset()
        event(
            log,
            "session.ended",
            reason=reason,
            session=ended.id[:8],
            touches=ended.touches,
            seconds=round(time.monotonic() - ended.started_at, 1),
        )
        for end_listener in list(self._end_listeners):
            end_listener(reason)
        return True

    @property
    def on_home(self) -> bool:
        return self.navigator.current.screen == HOME
