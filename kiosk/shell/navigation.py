"""Where the citizen is: a stack of places with the attract screen at the bottom.

Navigation is state, not widgets: views ask the navigator to go somewhere and the app shows
whatever `current` names. The stack lets "Atrás" retrace the exact path; `home()` keeps only
the home screen; `reset()` empties it for the next citizen.

While money can come in (a payment session), the navigator is held: `hold("payment")` makes every
move refuse (return False) until `release("payment")`, so "Atrás", "Inicio", a wipe or a staff
panel cannot take the citizen away from their money; the session's own ending releases the hold
and then shows its outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

ATTRACT = "attract"
HOME = "home"


@dataclass(frozen=True)
class Place:
    screen: str
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


class Navigator:
    def __init__(self, on_change: Callable[[Place], None] | None = None):
        self._stack: list[Place] = [Place(ATTRACT)]
        self._listeners: list[Callable[[Place], None]] = [on_change] if on_change else []
        self._holds: set[str] = set()
        self._hold_listeners: list[Callable[[bool], None]] = []
        self.refused = 0  # moves refused while held (tests, diagnostics)

    # -- holding the citizen where their money is ---------------------------------------------

    def on_hold(self, listener: Callable[[bool], None]) -> None:
        """listener(held) whenever holding starts or ends (the bars grey out their buttons)."""
        self._hold_listeners.append(listener)

    def hold(self, reason: str) -> None:
        was = self.held
        self._holds.add(reason)
        self._hold_changed(was)

    def release(self, reason: str) -> None:
        was = self.held
        self._holds.discard(reason)
        self._hold_changed(was)

    def _hold_changed(self, was: bool) -> None:
        if was != self.held:
            for listener in list(self._hold_listeners):
                listener(self.held)

    @property
    def held(self) -> bool:
        return bool(self._holds)

    def _allowed(self) -> bool:
        if self._holds:
            self.refused += 1
            return False
        return True

    def add_listener(self, listener: Callable[[Place], None]) -> None:
        self._listeners.append(listener)

    @property
    def current(self) -> Place:
        return self._stack[-1]

    @property
    def depth(self) -> int:
        """Touches from home needed to get here along the current path."""
        return max(len(self._stack) - 2, 0)

    @property
    def can_go_back(self) -> bool:
        return len(self._stack) > 2

    def go(self, screen: str, **params: Any) -> bool:
        if not self._allowed():
            return False
        self._stack.append(Place(screen, MappingProxyType(dict(params))))
        self._announce()
        return True

    def replace(self, screen: str, **params: Any) -> bool:
        if not self._allowed():
            return False
        self._stack[-1] = Place(screen, MappingProxyType(dict(params)))
        self._announce()
        return True

    def back(self) -> bool:
        if not self.can_go_back or not self._allowed():
            return False
        self._stack.pop()
        self._announce()
        return True

    def home(self) -> bool:
        if not self._allowed():
            return False
        self._stack = [Place(ATTRACT), Place(HOME)]
        self._announce()
        return True

    def reset(self) -> bool:
        if not self._allowed():
            return False
        self._stack = [Place(ATTRACT)]
        self._announce()
        return True

    def _announce(self) -> None:
        for listener in list(self._listeners):
            listener(self.current)
