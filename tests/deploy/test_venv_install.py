"""The installer's real path: a venv in /opt/kiosk/releases/<version> with the project in it,
run from the staging root; then `systemd-analyze verify` against that tree with no stand-ins.

pip needs the build requirements (setuptools, wheel) from the package index or its cache; when
neither is reachable the test is skipped, saying so. Dependencies are not installed
(KIOSK_PIP_ARGS=--no-deps): the commands used here need only the standard library.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import VERSION, make_verify_root, run_script, verify

OFFLINE_SIGNS = ("NewConnectionError", "Temporary failure in name resolution", "No matching distribution",
                 "Could not find a version", "Network is unreachable")


def test_install_builds_a_working_venv_that_the_unit_runs(tmp_path: Path) -> None:
    root = tmp_path / "root"
    done = run_script("install.sh", root, timeout=240, KIOSK_PIP_ARGS="--no-deps")
    if done.returncode != 0 and any(sign in done.stderr + done.stdout for sign in OFFLINE_SIGNS):
        pytest.skip("pip cannot reach the package index for setuptools/wheel")
    assert done.returncode == 0, done.stdout + done.stderr

    kiosk = root / "opt/kiosk/current/venv/bin/kiosk"
    version = subprocess.run([str(kiosk), "--version"], capture_output=True, text=True, timeout=30, check=False)
    assert version.stdout.strip() == f"kiosk {VERSION}"
    check = subprocess.run([str(kiosk), "config", "check", str(root / "etc/kiosk/kiosk.toml")],
                           capture_output=True, text=True, timeout=30, check=False)
    assert check.returncode == 0, check.stderr
    # The service must not run an interpreter that ProtectHome= hides.
    python = (root / "opt/kiosk/current/venv/bin/python").resolve()
    assert not str(python).startswith(("/root/", "/home/")), python

    verified = verify(make_verify_root(root))
    assert verified.returncode == 0 and verified.stderr.strip() == "", verified.stderr
