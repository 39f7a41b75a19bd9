"""Device URLs: one string per device says how to reach it.

    tcp://10.0.0.5:9100?timeout=3
    serial:///dev/serial/by-id/usb-Acme-if00?baudrate=9600
    usb://04b8:0202
    file:///dev/usb/lp0
    pcsc://Virtual PCD?profile=esteid          (the part after // is a reader-name pattern)
    sim://?paper=low&cover=open                 (the simulated twin; faults as query options)

Query options are the same for real and simulated devices where they make sense
(`timeout`, `code_page`, `profile`...). Unknown schemes are a configuration error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

SCHEMES = ("tcp", "serial", "usb", "file", "pcsc", "sim")


class UrlError(ValueError):
    pass


@dataclass(frozen=True)
class DeviceUrl:
    scheme: str
    host: str = ""
    port: int | None = None
    path: str = ""
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def is_sim(self) -> bool:
        return self.scheme == "sim"

    def option(self, key: str, default: str = "") -> str:
        return self.options.get(key, default)

    def float_option(self, key: str, default: float) -> float:
        try:
            return float(self.options[key]) if key in self.options else default
        except ValueError:
            raise UrlError(f"option {key}={self.options[key]!r} is not a number") from None

    def int_option(self, key: str, default: int) -> int:
        try:
            return int(self.options[key], 0) if key in self.options else default
        except ValueError:
            raise UrlError(f"option {key}={self.options[key]!r} is not an integer") from None

    def flag(self, key: str) -> bool:
        return self.options.get(key, "").lower() in ("1", "true", "yes", "on")

    def redacted(self) -> str:
        return self.text


def parse_device_url(text: str) -> DeviceUrl:
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UrlError(f"unknown scheme {scheme or '(none)'!r}; expected one of: {', '.join(SCHEMES)}")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    if scheme == "tcp":
        if not parts.hostname or parts.port is None:
            raise UrlError("tcp:// needs host and port, e.g. tcp://10.0.0.5:9100")
        return DeviceUrl(scheme, parts.hostname, parts.port, "", options, text)
    if scheme == "usb":
        vid_pid = parts.netloc or parts.path.strip("/")
        try:
            vid, pid = (int(value, 16) for value in vid_pid.split(":"))
        except ValueError:
            raise UrlError("usb:// needs vendor:product in hex, e.g. usb://04b8:0202") from None
        return DeviceUrl(scheme, f"{vid:04x}:{pid:04x}", None, "", options, text)
    if scheme in ("serial", "file"):
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise UrlError(f"{scheme}:// needs a device path, e.g. {scheme}:///dev/ttyUSB0")
        return DeviceUrl(scheme, "", None, path, options, text)
    if scheme == "pcsc":
        return DeviceUrl(scheme, "", None, unquote(parts.netloc + parts.path).strip("/"), options, text)
    return DeviceUrl(scheme, "", None, unquote(parts.netloc + parts.path), options, text)
