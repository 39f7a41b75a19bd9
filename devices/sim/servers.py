"""Host a simulated peer on a real transport: a loopback TCP port or the far end of a pty.

Both are bounded: they stop when told, and at the latest after `lifetime_s`. Faults that belong
to the wire rather than the device (garbage bytes, silence, a dropped connection) are injected
here, so every protocol gets the same ones.
"""

from __future__ import annotations

import os
import socket
import threading
import time

from ..links import Peer


class TcpPeerServer:
    """A peer listening on 127.0.0.1 (port chosen by the OS), one connection at a time."""

    def __init__(self, peer: Peer, lifetime_s: float = 60.0, port: int = 0):
        self.peer = peer
        self.lifetime_s = lifetime_s
        self._listener = socket.create_server(("127.0.0.1", port))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._conn: socket.socket | None = None
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, name="tcp-peer", daemon=True)

    def __enter__(self) -> TcpPeerServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def drop_connection(self) -> None:
        """The printer's network cable is pulled for a moment."""
        conn = self._conn
        if conn is not None:
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self.drop_connection()
        self._thread.join(timeout=2)
        self._listener.close()

    def _serve(self) -> None:
        deadline = time.monotonic() + self.lifetime_s
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._conn = conn
            self._talk(conn, deadline)
            self._conn = None

    def _talk(self, conn: socket.socket, deadline: float) -> None:
        conn.settimeout(0.1)
        with conn:
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                answer = self.peer.feed(data)
                if answer:
                    try:
                        conn.sendall(answer)
                    except OSError:
                        return


class SerialPeerThread:
    """Runs a peer on one end of a socat pty pair. It opens its end first, then sets `ready`
    (pyserial flushes input on open, so the host must not write before the peer listens)."""

    def __init__(self, peer: Peer, device_path: str, lifetime_s: float = 60.0):
        self.peer = peer
        self.device_path = device_path
        self.lifetime_s = lifetime_s
        self.ready = threading.Event()
        self._stop = threading.Event()
        self.garbage_before_answer = b""  # wire noise to prepend to the next answer
        self.silent = False  # swallow requests without answering
        self.corrupt_next = 0  # flip the last byte (checksum) of the next N answers
        self.answer_delay_s = 0.0  # a slow peer (or a loaded machine): each answer waits this long
        self._fd: int | None = None
        self._thread = threading.Thread(target=self._run, name="serial-peer", daemon=True)
        self._pending_out = bytearray()
        self._out_lock = threading.Lock()

    def __enter__(self) -> SerialPeerThread:
        self._thread.start()
        if not self.ready.wait(5):
            raise RuntimeError(f"simulator did not open {self.device_path}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def send(self, data: bytes) -> None:
        """Unsolicited bytes from the device (a scanned code)."""
        with self._out_lock:
            self._pending_out.extend(data)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        import termios
        import tty

        fd = os.open(self.device_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(fd)
        attrs = termios.tcgetattr(fd)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        self._fd = fd
        self.ready.set()
        deadline = time.monotonic() + self.lifetime_s
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                self._flush_pending(fd)
                try:
                    data = os.read(fd, 4096)
                except BlockingIOError:
                    self._stop.wait(0.005)
                    continue
                except OSError:
                    return  # the pty pair went away (socat stopped): the cable is pulled
                if not data:
                    self._stop.wait(0.005)
                    continue
                self._answer(fd, data)
        finally:
            os.close(fd)

    def _flush_pending(self, fd: int) -> None:
        with self._out_lock:
            if not self._pending_out:
                return
            data, self._pending_out = bytes(self._pending_out), bytearray()
        os.write(fd, data)

    def _answer(self, fd: int, data: bytes) -> None:
        answer = self.peer.feed(data)
        if self.silent or not answer:
            return
        if self.answer_delay_s and self._stop.wait(self.answer_delay_s):
            return
        if self.corrupt_next > 0:
            self.corrupt_next -= 1
            answer = answer[:-1] + bytes([answer[-1] ^ 0x5A])
        if self.garbage_before_answer:
            answer, self.garbage_before_answer = self.garbage_before_answer + answer, b""
        try:
            os.write(fd, answer)
        except OSError:
            return
