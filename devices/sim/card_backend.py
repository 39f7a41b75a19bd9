"""The simulated card reader behind `pcsc` + `sim://`: the virtual card without pcscd."""

from __future__ import annotations

import threading

from ..contract import DeviceError
from .card import VirtualIdCard

PRESENT, EMPTY = 0x20, 0x10  # the PC/SC state bits the adapter looks at
READER = "Simulated PC/SC reader 00 00"


class _SimSession:
    def __init__(self, backend: SimCardBackend, card: VirtualIdCard):
        self._backend, self._card = backend, card
        self.atr = card.atr

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if self._backend.card is not self._card:
            raise DeviceError("card.removed", "card gone")
        if self._card.wants_removal():
            self._backend.remove()
            raise DeviceError("card.removed", "removed mid-read")
        answer = self._card.process(apdu)
        if answer is None:  # a mute card: the reader waits until the card is pulled
            self._backend.removed.wait(30)
            raise DeviceError("card.removed", "mute card removed")
        return answer[:-2], (answer[-2] << 8) | answer[-1]

    def disconnect(self) -> None:
        pass


class SimCardBackend:
    def __init__(self, behaviour: str = "absent", offline: bool = False):
        self.offline = offline
        self.card: VirtualIdCard | None = None
        self.removed = threading.Event()
        self._changed = threading.Condition()
        self._version = 0
        if behaviour != "absent":
            self.insert(behaviour)

    def insert(self, behaviour: str = "normal") -> VirtualIdCard:
        with self._changed:
            self.card = VirtualIdCard(behaviour)
            self.removed.clear()
            self._version += 1
            self._changed.notify_all()
            return self.card

    def remove(self) -> None:
        with self._changed:
            self.card = None
            self.removed.set()
            self._version += 1
            self._changed.notify_all()

    def readers(self) -> list[str]:
        if self.offline:
            raise DeviceError("card.service_unavailable", "simulated pcscd down")
        return [READER]

    def wait_change(self, reader: str, known_state: int, timeout_s: float) -> tuple[int, bool, bytes]:
        with self._changed:
            state = PRESENT if self.card else EMPTY
            if state == known_state:
                self._changed.wait(timeout_s)
            card = self.card
        return (PRESENT if card else EMPTY), card is not None, card.atr if card else b""

    def connect(self, reader: str) -> _SimSession:
        card = self.card
        if card is None:
            raise DeviceError("card.absent", "no card")
        card.reset()
        return _SimSession(self, card)

    def reset(self) -> None:
        pass

    def cancel(self) -> None:
        with self._changed:
            self._changed.notify_all()
