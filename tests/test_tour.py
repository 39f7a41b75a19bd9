"""`kiosk tour` and the headless `make demo`: real processes, real PNGs, one per view."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageStat

pytestmark = pytest.mark.ui  # starts the real Kivy app (in a child process)

ROOT = Path(__file__).resolve().parent.parent
VIEWS = {"attract", "home", "menu", "procedure", "print", "account", "bill", "paying", "done", "identify", "search",
         "help", "display", "idle"}


def headless_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    # The demo configuration (simulated devices), with its own data dir and sandbox port.
    config = tmp_path / "kiosk.toml"
    port = free_port()
    text = (ROOT / "config" / "kiosk.toml").read_text(encoding="utf-8")
    text = text.replace('data_dir = "../var"', f'data_dir = "{tmp_path / "data"}"')
    key = tmp_path / "data" / "sandbox" / "signing.pub"
    text = text.replace('public_key = "../var/sandbox/signing.pub"', f'public_key = "{key}"')
    text = text.replace('base_url = "http://127.0.0.1:8480"', f'base_url = "http://127.0.0.1:{port}"')
    config.write_text(text, encoding="utf-8")
    env["KIOSK_CONFIG"] = str(config)
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_real_pictures(folder: Path) -> None:
    names = {path.stem for path in folder.glob("*.png")}
    assert names >= VIEWS, f"missing: {VIEWS - names}"
    for name in VIEWS:
        with Image.open(folder / f"{name}.png") as picture:
            assert picture.size[0] >= 320 and picture.size[1] >= 320
            spread = ImageStat.Stat(picture.convert("L")).stddev[0]
            assert spread > 5, f"{name}.png looks blank (stddev {spread:.1f})"


def test_tour_writes_one_png_per_screen_and_dialog(tmp_path):
    out = tmp_path / "shots"
    result = subprocess.run([sys.executable, "-m", "kiosk", "tour", "--out", str(out)], capture_output=True,
                            text=True, timeout=120, cwd=ROOT, env=headless_env(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert_real_pictures(out)
    assert f"wrote {len(list(out.glob('*.png')))} screenshots" in result.stdout
    assert "tour.catalog source=" in result.stdout and "bundled sample" not in result.stdout  # it synced


def test_demo_without_a_display_runs_the_tour_and_says_where(tmp_path):
    out = tmp_path / "demo-tour"
    result = subprocess.run([sys.executable, "-m", "kiosk", "demo", "--tour-out", str(out)], capture_output=True,
                            text=True, timeout=180, cwd=ROOT, env=headless_env(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    assert str(out.resolve()) in result.stdout
    assert_real_pictures(out)
