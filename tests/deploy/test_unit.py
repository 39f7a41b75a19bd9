"""kiosk.service: `systemd-analyze verify` on the unit as installed in a staging root (so
ExecStart= must exist where install.sh put it), what the unit must say, and its drop-ins."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kiosk.cli import build_parser
from kiosk.core import sdnotify
from tests.deploy.conftest import (
    REPO,
    install,
    make_verify_root,
    needs_systemd_analyze,
    stub_executable,
    verify,
)

UNIT = REPO / "kiosk.service"
EXEC = "/opt/kiosk/current/venv/bin/kiosk"


def directives(text: str) -> dict[str, list[str]]:
    """'Section.Key' -> every value it is given, in order (systemd keys may repeat)."""
    found: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return found


def one(found: dict[str, list[str]], key: str) -> str:
    values = found.get(key)
    assert values, f"kiosk.service does not set {key}"
    return values[-1]


def environment(found: dict[str, list[str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in found.get("Service.Environment", []):
        for item in value.split():
            name, _, setting = item.partition("=")
            env[name] = setting
    return env


def staged_with_stub(tmp_path: Path) -> Path:
    """Installed without a venv; a stand-in executable where the venv's `kiosk` goes."""
    root = tmp_path / "root"
    install(root)
    stub_executable(root / EXEC.lstrip("/"))
    return make_verify_root(root)


def test_systemd_analyze_verify_passes_on_the_installed_unit(tmp_path: Path) -> None:
    root = staged_with_stub(tmp_path)
    done = verify(root)
    assert done.returncode == 0, done.stderr
    # verify only warns (exit 0) about unknown keys or bad values: any output is a failure.
    assert done.stderr.strip() == "" and done.stdout.strip() == "", done.stderr + done.stdout


def test_verify_catches_a_misspelt_key_and_a_missing_program(tmp_path: Path) -> None:
    """The check above can fail: a typo in the unit or a missing ExecStart is reported."""
    root = staged_with_stub(tmp_path)
    unit = root / "etc/systemd/system/kiosk.service"
    unit.write_text(unit.read_text().replace("ProtectHome=yes", "ProtectHomes=yes"))
    done = verify(root)
    assert "Unknown key" in done.stderr and "ProtectHomes" in done.stderr
    unit.write_text(UNIT.read_text())
    (root / EXEC.lstrip("/")).unlink()
    done = verify(root)
    assert done.returncode != 0 and "is not executable" in done.stderr


def test_the_x11_alternative_drop_in_verifies(tmp_path: Path) -> None:
    root = staged_with_stub(tmp_path)
    dropin = root / "etc/systemd/system/kiosk.service.d/x11.conf"
    dropin.parent.mkdir(parents=True)
    shutil.copy(root / "opt/kiosk/current/share/kiosk/kiosk-x11.conf", dropin)
    stub_executable(root / "usr/bin/xinit")
    done = verify(root)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
    text = dropin.read_text()
    assert "NotifyAccess=all" in text and "-u WATCHDOG_PID" in text
    assert "ExecStart=\n" in text, "the drop-in must reset ExecStart= before replacing it"


def test_hardening_exposure_stays_low(tmp_path: Path) -> None:
    needs_systemd_analyze()
    root = staged_with_stub(tmp_path)
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", f"--root={root}", "--threshold=30", "--no-pager",
         "kiosk.service"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    level = re.search(r"Overall exposure level for kiosk.service: ([\d.]+)", done.stdout)
    assert level, done.stdout[-500:] + done.stderr
    assert done.returncode == 0, f"exposure {level.group(1)} is above 3.0"


def test_the_unit_says_what_the_issue_asks() -> None:
    found = directives(UNIT.read_text())
    assert one(found, "Service.Type") == "notify"
    assert 5 <= int(one(found, "Service.WatchdogSec")) <= 120
    assert one(found, "Service.Restart") == "always"
    assert str(sdnotify.EXIT_DELIBERATE_SHUTDOWN) in one(found, "Service.RestartPreventExitStatus").split()
    assert one(found, "Unit.StartLimitIntervalSec") == "0"
    assert one(found, "Service.User") == "kiosk"
    for key, value in {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes", "ProtectHome": "yes",
        "ReadWritePaths": "/var/lib/kiosk", "StateDirectory": "kiosk", "CapabilityBoundingSet": "",
        "StandardOutput": "journal", "LimitCORE": "0",
    }.items():
        assert one(found, f"Service.{key}") == value, key
    env = environment(found)
    assert env["SDL_VIDEODRIVER"] == "kmsdrm"
    assert env["KIVY_NO_ARGS"] == "1" and env["KIVY_NO_CONFIG"] == "1"
    assert env["KIOSK_CONFIG"] == "/etc/kiosk/kiosk.toml"
    assert "getty@tty1.service" in one(found, "Unit.Conflicts")
    assert one(found, "Service.TTYPath") == "/dev/tty1"
    assert one(found, "Service.PAMName") == "kiosk"
    assert "pam_systemd.so" in (REPO / "deploy/pam-kiosk").read_text()
    for key in ("Unit.Wants", "Unit.Requires", "Unit.After"):
        assert "network-online.target" not in " ".join(found.get(key, [])), "an offline kiosk must not wait"
    assert one(found, "Install.WantedBy") == "multi-user.target"


def test_the_supplementary_groups_match_the_installer() -> None:
    found = directives(UNIT.read_text())
    unit_groups = one(found, "Service.SupplementaryGroups").split()
    script = (REPO / "scripts/install.sh").read_text()
    match = re.search(r"^KIOSK_GROUPS=\((.*)\)$", script, re.MULTILINE)
    assert match
    assert unit_groups == match.group(1).split()
    assert set(unit_groups) >= {"video", "render", "input", "audio", "lp", "dialout"}


def test_execstart_is_a_valid_kiosk_command_line() -> None:
    found = directives(UNIT.read_text())
    program, *args = one(found, "Service.ExecStart").split()
    assert program == EXEC
    parsed = build_parser().parse_args(args)
    assert parsed.command == "run" and parsed.config == "/etc/kiosk/kiosk.toml"


@pytest.mark.parametrize(
    ("source", "daemon"),
    [("deploy/journald-kiosk.conf", "systemd-journald"), ("deploy/logind-kiosk.conf", "systemd-logind")],
)
def test_drop_in_keys_are_known_to_this_systemd(source: str, daemon: str) -> None:
    """journald and logind have no offline verifier; their key tables are strings in the binary."""
    binary = next((p for p in (Path("/lib/systemd") / daemon, Path("/usr/lib/systemd") / daemon) if p.exists()), None)
    if binary is None:
        pytest.skip(f"{daemon} is not installed")
    blob = binary.read_bytes()
    for key in directives((REPO / source).read_text()):
        name = key.split(".", 1)[1]
        assert name.encode() in blob, f"{source}: {daemon} does not know {name}"

