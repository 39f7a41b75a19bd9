"""Helpers for the deployment tests: run the installer into a staging root, build a root that
`systemd-analyze --root` can verify the installed unit in."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VERSION = next(
    line.split('"')[1] for line in (REPO / "kiosk" / "__init__.py").read_text().splitlines()
    if line.startswith("__version__")
)
SYSTEM_UNIT_DIRS = (Path("/lib/systemd/system"), Path("/usr/lib/systemd/system"))


def script_env(destdir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("KIOSK_")}
    env.pop("PURGE", None)
    env["DESTDIR"] = str(destdir)
    env.update(extra)
    return env


def run_script(name: str, destdir: Path, timeout: float = 60, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(REPO / "scripts" / name)],
        env=script_env(destdir, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def install(destdir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    extra.setdefault("KIOSK_INSTALL_SKIP_VENV", "1")
    done = run_script("install.sh", destdir, **extra)
    assert done.returncode == 0, f"install failed:\n{done.stdout}\n{done.stderr}"
    return done


def uninstall(destdir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    done = run_script("uninstall.sh", destdir, **extra)
    assert done.returncode == 0, f"uninstall failed:\n{done.stdout}\n{done.stderr}"
    return done


def tree(root: Path) -> dict[str, str]:
    """Every path under root: 'dir', 'link -> target', or 'file <mode>'."""
    listing: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = "/" + str(path.relative_to(root))
        if path.is_symlink():
            listing[rel] = f"link -> {os.readlink(path)}"
        elif path.is_dir():
            listing[rel] = f"dir {oct(path.stat().st_mode & 0o7777)}"
        else:
            listing[rel] = f"file {oct(path.stat().st_mode & 0o7777)}"
    return listing


def system_unit_dir() -> Path | None:
    for candidate in SYSTEM_UNIT_DIRS:
        if (candidate / "multi-user.target").exists():
            return candidate
    return None


def needs_systemd_analyze() -> None:
    if not shutil.which("systemd-analyze") or system_unit_dir() is None:
        pytest.fail("systemd-analyze and the systemd units are needed: apt-get install systemd "
                    "(listed in scripts/apt-packages.txt)")


def make_verify_root(staged: Path) -> Path:
    """Add the distribution's units (sysinit.target, getty@.service, ...) to a staged root so
    `systemd-analyze verify --root` resolves every dependency and ExecStart= inside it."""
    needs_systemd_analyze()
    units = system_unit_dir()
    assert units is not None
    target = staged / "usr" / "lib" / "systemd" / "system"
    if not target.exists():
        shutil.copytree(units, target, symlinks=True)
    return staged


def verify(root: Path, unit: str = "kiosk.service") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={root}", unit],
        capture_output=True, text=True, timeout=60, check=False,
    )


def stub_executable(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)


@pytest.fixture
def staged(tmp_path: Path) -> Path:
    """A staging root with the kiosk installed once (without building the venv)."""
    root = tmp_path / "root"
    install(root)
    return root


InstallFn = Callable[..., subprocess.CompletedProcess[str]]
