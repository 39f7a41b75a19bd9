"""Byte links: the transports under the protocol drivers, all with deadlines.

A link is opened, written, read with a deadline (`read` returns what arrived in time, maybe
nothing) and closed. Failures become `DeviceError` with a transport reason code, so protocol
code never sees socket or serial exceptions. `present()` tells whether the device node exists,
which is how an unplugged USB-serial device is told apart from a silent one.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from typing import Any, Protocol

from .contract import DeviceError
from .urls import DeviceUrl


class Link(Protocol):
    def open(self) -> None: ...
    def close(self) -> None: ...
    def write(self, data: bytes) -> None: ...
    def read(self, size: int, timeout: float) -> bytes: ...
    def reset_input(self) -> None: ...
    def present(self) -> bool: ...


def read_exactly(link: Link, size: int, timeout: float) -> bytes:
    """Read `size` bytes or whatever arrived before the deadline."""
    deadline = time.monotonic() + timeout
    data = b""
    while len(data) < size:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        data += link.read(size - len(data), left)
    return data


class TcpLink:
    def __init__(self, host: str, port: int, timeout: float):
        self.host, self.port, self.timeout = host, port, timeout
        self._sock: socket.socket | None = None

    def open(self) -> None:
        self.close()
        try:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except TimeoutError:
            raise DeviceError("transport.timeout", f"connect {self.host}:{self.port}") from None
        except OSError as error:
            raise DeviceError("transport.no_device", f"connect {self.host}:{self.port}: {error.strerror}") from None
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def _socket(self) -> socket.socket:
        if self._sock is None:
            raise DeviceError("transport.connection_lost", "not connected")
        return self._sock

    def write(self, data: bytes) -> None:
        sock = self._socket()
        sock.settimeout(self.timeout)
        try:
            sock.sendall(data)
        except TimeoutError:
            raise DeviceError("transport.timeout", "send") from None
        except OSError as error:
            self.close()
            raise DeviceError("transport.connection_lost", f"send: {error.strerror}") from None

    def read(self, size: int, timeout: float) -> bytes:
        sock = self._socket()
        sock.settimeout(max(timeout, 0.001))
        try:
            data = sock.recv(size)
        except TimeoutError:
            return b""
        except OSError as error:
            self.close()
            raise DeviceError("transport.connection_lost", f"recv: {error.strerror}") from None
        if not data:
            self.close()
            raise DeviceError("transport.connection_lost", "peer closed the connection")
        return data

    def reset_input(self) -> None:
        sock = self._socket()
        sock.setblocking(False)
        try:
            while sock.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass
        finally:
            sock.setblocking(True)

    def present(self) -> bool:
        return True


class SerialLink:
    """pyserial port (a device node, a pty, or any pyserial URL)."""

    def __init__(self, path: str, baudrate: int, timeout: float, parity: str = "N"):
        self.path, self.baudrate, self.timeout, self.parity = path, baudrate, timeout, parity
        self._port: Any = None  # a pyserial port once open

    def open(self) -> None:
        import serial  # pyserial; imported here so the CLI stays quick

        self.close()
        if "://" not in self.path and not os.path.exists(self.path):
            raise DeviceError("transport.no_device", f"{self.path} does not exist")
        try:
            self._port = serial.serial_for_url(
                self.path, baudrate=self.baudrate, parity=self.parity, timeout=self.timeout,
                write_timeout=self.timeout, exclusive=True,
            )
        except (serial.SerialException, OSError) as error:
            raise DeviceError("transport.no_device", f"{self.path}: {error}") from None

    def close(self) -> None:
        if self._port is not None:
            with contextlib.suppress(OSError):
                self._port.close()
            self._port = None

    def _serial(self):
        if self._port is None:
            raise DeviceError("transport.connection_lost", "port not open")
        return self._port

    def write(self, data: bytes) -> None:
        import termios

        import serial

        try:
            self._serial().write(data)
            self._serial().flush()
        except serial.SerialTimeoutException:
            raise DeviceError("transport.timeout", "write") from None
        except (serial.SerialException, OSError, termios.error) as error:
            self.close()
            raise DeviceError("transport.connection_lost", f"write: {error}") from None

    def read(self, size: int, timeout: float) -> bytes:
        import termios

        import serial

        port = self._serial()
        try:
            # pyserial's read(n) waits for all n bytes; wait for the first, then take what is there.
            port.timeout = max(timeout, 0.001)
            first = port.read(1)
            if not first or size == 1:
                return first
            waiting = min(port.in_waiting, size - 1)
            return first + (port.read(waiting) if waiting else b"")
        except (serial.SerialException, OSError, termios.error) as error:
            self.close()
            raise DeviceError("transport.connection_lost", f"read: {error}") from None

    def reset_input(self) -> None:
        import termios

        try:
            self._serial().reset_input_buffer()
        except (OSError, termios.error) as error:  # termios.error is not an OSError
            self.close()
            raise DeviceError("transport.connection_lost", str(error)) from None

    def present(self) -> bool:
        return "://" in self.path or os.path.exists(self.path)


class FileLink:
    """A write-only device file such as /dev/usb/lp0: no status can be read back."""

    def __init__(self, path: str):
        self.path = path
        self._fd: int | None = None

    def open(self) -> None:
        self.close()
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o600)
        except OSError as error:
            raise DeviceError("transport.no_device", f"{self.path}: {error.strerror}") from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def write(self, data: bytes) -> None:
        if self._fd is None:
            raise DeviceError("transport.connection_lost", "file not open")
        try:
            os.write(self._fd, data)
        except OSError as error:
            raise DeviceError("transport.connection_lost", f"write: {error.strerror}") from None

    def read(self, size: int, timeout: float) -> bytes:
        return b""  # a plain file never answers: status stays unknown

    def reset_input(self) -> None:
        pass

    def present(self) -> bool:
        return os.path.exists(self.path)


class Peer(Protocol):
    """A simulated device on the far side of a SimLink (see devices/sim)."""

    def feed(self, data: bytes) -> bytes: ...


class SimLink:
    """An in-process link to a simulated peer: what the host writes, the peer answers."""

    def __init__(self, peer: Peer, offline: bool = False):
        self.peer = peer
        self.offline = offline
        self._buffer = bytearray()
        self._ready = threading.Condition()
        self._open = False

    def open(self) -> None:
        if self.offline:
            raise DeviceError("transport.no_device", "simulated device is unplugged")
        self._open = True

    def close(self) -> None:
        self._open = False

    def write(self, data: bytes) -> None:
        if not self._open:
            raise DeviceError("transport.connection_lost", "simulated link closed")
        answer = self.peer.feed(data)
        if answer:
            self.push(answer)

    def push(self, data: bytes) -> None:
        """Bytes the peer sends on its own (a scan, an unsolicited status)."""
        with self._ready:
            self._buffer.extend(data)
            self._ready.notify_all()

    def read(self, size: int, timeout: float) -> bytes:
        if not self._open:
            raise DeviceError("transport.connection_lost", "simulated link closed")
        with self._ready:
            self._ready.wait_for(lambda: bool(self._buffer), timeout=max(timeout, 0))
            data = bytes(self._buffer[:size])
            del self._buffer[:size]
            return data

    def reset_input(self) -> None:
        with self._ready:
            self._buffer.clear()

    def present(self) -> bool:
        return not self.offline


class UsbLink:
    """A USB printer-class device through python-escpos' Usb (needs pyusb, not a default dependency)."""

    def __init__(self, vid_pid: str, timeout: float):
        self.vid, self.pid = (int(part, 16) for part in vid_pid.split(":"))
        self.timeout = timeout
        self._printer: Any = None  # an escpos Usb printer once open (escpos has no type hints)

    def open(self) -> None:
        try:
            from escpos.printer import Usb
        except ImportError:
            raise DeviceError("driver.missing", "python-escpos Usb") from None
        if not Usb.is_usable():
            raise DeviceError("driver.missing", "pyusb is not installed (pip install pyusb)")
        try:
            self._printer = Usb(self.vid, self.pid, timeout=int(self.timeout * 1000))
            self._printer.open()
        except Exception as error:  # escpos raises several kinds; all mean "not there"
            self._printer = None
            raise DeviceError("transport.no_device", f"usb {self.vid:04x}:{self.pid:04x}: {error}") from None

    def close(self) -> None:
        if self._printer is not None:
            try:
                self._printer.close()
            finally:
                self._printer = None

    def write(self, data: bytes) -> None:
        if self._printer is None:
            raise DeviceError("transport.connection_lost", "usb not open")
        try:
            self._printer._raw(data)
        except Exception as error:
            self.close()
            raise DeviceError("transport.connection_lost", f"usb write: {error}") from None

    def read(self, size: int, timeout: float) -> bytes:
        if self._printer is None:
            raise DeviceError("transport.connection_lost", "usb not open")
        try:
            return bytes(self._printer.device.read(self._printer.in_ep, size, int(timeout * 1000)))
        except Exception:  # pyusb's timeout and I/O errors alike mean "no answer": status unknown, never OK
            return b""

    def reset_input(self) -> None:
        pass

    def present(self) -> bool:
        return True


def link_for_url(url: DeviceUrl, default_baudrate: int = 9600, parity: str = "N") -> Link:
    """The transport a URL names (sim:// is handled by each driver, which owns its simulator)."""
    timeout = url.float_option("timeout", 3.0)
    if url.scheme == "tcp":
        return TcpLink(url.host, url.port or 9100, timeout)
    if url.scheme == "serial":
        return SerialLink(url.path, url.int_option("baudrate", default_baudrate), timeout,
                          url.option("parity", parity).upper())
    if url.scheme == "file":
        return FileLink(url.path)
    if url.scheme == "usb":
        return UsbLink(url.host, timeout)
    raise DeviceError("config.invalid", f"{url.scheme}:// is not a byte transport")
