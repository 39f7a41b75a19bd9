"""Where the citizen is: a stack of places with the attract screen at the bottom.

Navigation is state, not widgets: views ask the navigator to go somewhere and the app shows
whatever `current` names. The stack lets "Atrás" retrace the exact path; `home()` keeps only
the home screen; `reset()` empties it for the next citizen.
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

    def go(self, screen: str, **params: Any) -> None:
        self._stack.append(Place(screen, MappingProxyType(dict(params))))
        self._announce()

    def replace(self, screen: str, **params: Any) -> None:
        self._stack[-1] = Place(screen, MappingProxyType(dict(params)))
        self._announce()

    def back(self) -> None:
        if self.can_go_back:
            self._stack.pop()
            self._announce()

    def home(self) -> None:
        self._stack = [Place(ATTRACT), Place(HOME)]
        self._announce()

    def reset(self) -> None:
        self._stack = [Place(ATTRACT)]
        self._announce()

    def _announce(self) -> None:
        for listener in list(self._listeners):
            listener(self.current)
