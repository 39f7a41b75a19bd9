"""systemd notification protocol (sd_notify) without a dependency: READY, STATUS, WATCHDOG.

Outside systemd ($NOTIFY_SOCKET unset) every call is a no-op returning False, so the app calls
these unconditionally. The watchdog is pinged from the Kivy clock so a frozen UI stops the pings.
"""

from __future__ import annotations

import os
import socket

# A deliberate shutdown by a technician exits with this status; kiosk.service lists it in
# RestartPreventExitStatus so systemd does not bring the app back.
EXIT_DELIBERATE_SHUTDOWN = 64


def notify(message: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8"))
    except OSError:
        return False
    return True


def ready(status: str = "") -> bool:
    return notify("READY=1" + (f"\nSTATUS={status}" if status else ""))


def status(text: str) -> bool:
    return notify(f"STATUS={text}")


def stopping() -> bool:
    return notify("STOPPING=1")


def ping_watchdog() -> bool:
    return notify("WATCHDOG=1")


def watchdog_interval_s() -> float | None:
    """Half the watchdog period systemd asked for, or None when no watchdog is armed."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(int(usec) / 2e6, 0.05)
    except ValueError:
        return None
