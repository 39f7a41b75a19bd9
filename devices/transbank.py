"""Transbank self-service ("POS Autoservicio") framing, shared by the adapter (devices/payment.py)
and the simulated terminal (devices/sim/transbank.py), so neither imports the other.

A frame is STX, ASCII fields each followed by "|", ETX and an LRC byte: the XOR of everything
after STX up to and including ETX. The receiver answers ACK, or NAK when the LRC does not match.
"""

from __future__ import annotations

STX, ETX, ACK, NAK = 0x02, 0x03, 0x06, 0x15


def lrc(body: bytes) -> int:
    value = 0
    for byte in body:
        value ^= byte
    return value


def frame(fields: list[str]) -> bytes:
    body = ("|".join(fields) + "|").encode("ascii") + bytes([ETX])
    return bytes([STX]) + body + bytes([lrc(body)])


class FrameError(ValueError):
    """A frame that is not STX ... ETX LRC with a matching LRC (the receiver answers NAK)."""


def unframe(raw: bytes) -> list[str]:
    """Fields of a complete frame (STX ... ETX LRC); raises FrameError on anything else."""
    if len(raw) < 3 or raw[0] != STX or raw[-2] != ETX:
        raise FrameError("not a frame")
    body, check = raw[1:-1], raw[-1]
    if lrc(body) != check:
        raise FrameError("bad LRC")
    text = body[:-1].decode("ascii", "replace")
    return text[:-1].split("|") if text.endswith("|") else text.split("|")
