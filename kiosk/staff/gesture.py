"""The hidden gesture that opens the staff PIN pad.

Hold the top-left corner for three seconds, let go, then touch the other corners clockwise
(top-right, bottom-right, bottom-left), each within a few seconds. A citizen does not hold a
corner that long and then find three more corners in order; the PIN is the real lock.

Only the top-left corner is always taken from the screen below it (a small square at the very
edge, outside every button's text); once armed, the next touches go to the gesture alone, so the
sequence cannot press a citizen's button by accident. Pure logic with an injectable clock:
the Kivy side feeds it window touches and opens the PIN pad when it reports success.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

HOLD_S = 3.0
STEP_S = 4.0
SEQUENCE = ("top_right", "bottom_right", "bottom_left")


@dataclass(frozen=True)
class Area:
    width: float
    height: float
    corner: float  # side of each corner square, in the same units (pixels)

    def corner_of(self, x: float, y: float) -> str | None:
        """Which corner (x, y) is in, with y growing upwards as in Kivy; None elsewhere."""
        left, right = x <= self.corner, x >= self.width - self.corner
        bottom, top = y <= self.corner, y >= self.height - self.corner
        if top and left:
            return "top_left"
        if top and right:
            return "top_right"
        if bottom and right:
            return "bottom_right"
        if bottom and left:
            return "bottom_left"
        return None


class StaffGesture:
    """Feed it touches; `down`/`up` return True when the touch belongs to the gesture (the
    caller then keeps it from the widgets). `on_success` runs when the sequence completes."""

    def __init__(self, area: Area, on_success: Callable[[], None], now: Callable[[], float] = time.monotonic):
        self.area = area
        self._on_success = on_success
        self._now = now
        self._holding: dict[object, float] = {}  # touch id -> when the corner hold began
        self._step = -1  # -1: not armed; else index into SEQUENCE of the next expected corner
        self._step_deadline = 0.0
        self._taken: set[object] = set()

    @property
    def armed(self) -> bool:
        return self._step >= 0 and self._now() <= self._step_deadline

    def down(self, touch_id: object, x: float, y: float) -> bool:
        corner = self.area.corner_of(x, y)
        if self.armed:
            self._taken.add(touch_id)
            self._advance(corner)
            return True
        self._step = -1
        if corner == "top_left":
            self._holding[touch_id] = self._now()
            self._taken.add(touch_id)
            return True
        return False

    def up(self, touch_id: object, x: float, y: float) -> bool:
        began = self._holding.pop(touch_id, None)
        if began is not None and self.area.corner_of(x, y) == "top_left" and self._now() - began >= HOLD_S:
            self._step = 0
            self._step_deadline = self._now() + STEP_S
        if touch_id in self._taken:
            self._taken.discard(touch_id)
            return True
        return False

    def _advance(self, corner: str | None) -> None:
        if corner != SEQUENCE[self._step]:
            self._step = -1  # a wrong touch ends the attempt quietly
            return
        self._step += 1
        self._step_deadline = self._now() + STEP_S
        if self._step == len(SEQUENCE):
            self._step = -1
            self._on_success()
