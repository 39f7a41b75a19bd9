"""The hidden staff gesture: hold the top-left corner, then the other corners clockwise."""

from __future__ import annotations

from kiosk.shell.idle import ManualClock
from kiosk.staff.gesture import HOLD_S, STEP_S, Area, StaffGesture

AREA = Area(width=1000, height=2000, corner=40)
TOP_LEFT, TOP_RIGHT, BOTTOM_RIGHT, BOTTOM_LEFT, MIDDLE = (5, 1995), (995, 1995), (995, 5), (5, 5), (500, 1000)


def make() -> tuple[StaffGesture, ManualClock, list[str]]:
    clock, opened = ManualClock(), []
    return StaffGesture(AREA, lambda: opened.append("pin pad"), now=clock), clock, opened


def tap(gesture: StaffGesture, uid: int, point: tuple[int, int]) -> bool:
    taken = gesture.down(uid, *point)
    return gesture.up(uid, *point) and taken


def hold_corner(gesture: StaffGesture, clock: ManualClock, seconds: float = HOLD_S + 0.1) -> None:
    assert gesture.down(1, *TOP_LEFT)
    clock.advance(seconds)
    assert gesture.up(1, *TOP_LEFT)


def test_hold_then_corners_clockwise_opens_the_pin_pad_and_keeps_every_touch():
    gesture, clock, opened = make()
    hold_corner(gesture, clock)
    for uid, corner in enumerate((TOP_RIGHT, BOTTOM_RIGHT, BOTTOM_LEFT), start=2):
        clock.advance(1.0)
        assert tap(gesture, uid, corner), "a gesture touch must not reach the citizen's buttons"
    assert opened == ["pin pad"]
    assert not gesture.armed


def test_a_short_hold_arms_nothing_and_the_next_corners_reach_the_screen():
    gesture, clock, opened = make()
    hold_corner(gesture, clock, seconds=HOLD_S - 0.5)
    assert not gesture.armed
    assert not tap(gesture, 2, TOP_RIGHT)
    assert opened == []


def test_a_wrong_corner_or_a_slow_step_ends_the_attempt():
    gesture, clock, opened = make()
    hold_corner(gesture, clock)
    assert tap(gesture, 2, BOTTOM_LEFT)  # out of order: swallowed, attempt over
    assert not gesture.armed
    hold_corner(gesture, clock)
    tap(gesture, 3, TOP_RIGHT)
    clock.advance(STEP_S + 0.1)
    assert not tap(gesture, 4, BOTTOM_RIGHT)  # too late: an ordinary touch again
    assert opened == []


def test_touches_away_from_the_corner_are_never_taken():
    gesture, _clock, _opened = make()
    assert not tap(gesture, 1, MIDDLE)
    assert not tap(gesture, 2, TOP_RIGHT)
    assert gesture.down(3, *TOP_LEFT)  # the top-left square always belongs to the gesture
    assert gesture.up(3, *MIDDLE)  # sliding off the corner keeps it, but arms nothing
    assert not gesture.armed
