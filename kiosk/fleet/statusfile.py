"""`<data_dir>/diag/status.json`: the running app's last health report, for a technician's shell.

The app holds its devices exclusively (a serial port, the printer's TCP connection), so
`kiosk diag` in a shell cannot open them while the app runs. The FleetMonitor therefore writes
its report here after every collection, atomically (temporary file, fsync, rename), and
`kiosk diag` uses the devices part while the file is fresh.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.fleet.model import Check, Gettext, HealthReport, spanish

FORMAT = 1
FRESH_FACTOR = 3  # younger than 3 status intervals: the app is alive and writing


def status_path(data_dir: Path) -> Path:
    return Path(data_dir) / "diag" / "status.json"


def write_status(path: Path, report: HealthReport, written_at: float, interval_s: float) -> None:
    """Replace the file in one rename, so a reader never sees half a report."""
    document = {"format": FORMAT, "written_at": written_at, "pid": os.getpid(), "status_interval_s": interval_s,
                "report": report.to_dict()}
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".status-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o640)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class AppStatus:
    """What status.json says about the running app."""

    written_at: float
    pid: int
    interval_s: float
    checks: tuple[Check, ...]
    age_s: float

    @property
    def fresh(self) -> bool:
        return self.age_s < FRESH_FACTOR * self.interval_s and _alive(self.pid)

    def app_state(self, _: Gettext = spanish) -> dict[str, Any]:
        """What the "app" check says, in the language of `_` (Spanish by default)."""
        if self.fresh:
            return {"running": True, "pid": self.pid, "status_age_s": round(self.age_s, 1),
                    "text": _("en marcha (pid {pid}); dispositivos como los vio hace {age} s").format(
                        pid=self.pid, age=f"{self.age_s:.0f}")}
        return {"running": False, "pid": self.pid, "status_age_s": round(self.age_s, 1),
                "text": _("no está en marcha (su último estado es de hace {age} s); dispositivos abiertos por este "
                          "comando").format(age=f"{self.age_s:.0f}")}


def read_status(path: Path, now: float) -> AppStatus | None:
    """The app's last status, or None when there is none or it cannot be read."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != FORMAT:
            return None
        checks = tuple(Check.from_dict(item) for section in document["report"]["sections"]
                       for item in section["checks"])
        written_at = float(document["written_at"])
        return AppStatus(written_at, int(document["pid"]), float(document["status_interval_s"]), checks,
                         max(0.0, now - written_at))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    """The writer still exists (a crashed app's file stays fresh for a while otherwise)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, run by another user (the kiosk user; we may be a technician)
    return True
