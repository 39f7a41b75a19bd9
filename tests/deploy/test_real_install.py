"""`make install` for real (no DESTDIR), as root, inside a private mount namespace whose /etc,
/opt and /var are overlays on a scratch directory: the user and groups are really created,
ownership is really set, and the machine running the test is left exactly as it was."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import REPO

INNER = r"""
set -euo pipefail
scratch=$1 repo=$2
for dir in etc opt var; do
  mkdir -p "$scratch/$dir/up" "$scratch/$dir/work"
  mount -t overlay overlay -o "lowerdir=/$dir,upperdir=$scratch/$dir/up,workdir=$scratch/$dir/work" "/$dir"
done
# The kernel's settings are not namespaced: keep sysctl from touching them.
mount --bind /bin/true "$(command -v sysctl)"
export KIOSK_INSTALL_SKIP_VENV=1
unset DESTDIR PURGE
bash "$repo/scripts/install.sh" >/dev/null
bash "$repo/scripts/install.sh" >/dev/null
echo "groups=$(id -nG kiosk)"
echo "shell=$(getent passwd kiosk | cut -d: -f7)"
echo "data=$(stat -c '%U:%G %a' /var/lib/kiosk)"
echo "config=$(stat -c '%U:%G %a' /etc/kiosk/kiosk.toml)"
echo "release=$(stat -c '%U %a' /opt/kiosk/current/)"
echo "wants=$(readlink /etc/systemd/system/multi-user.target.wants/kiosk.service)"
bash "$repo/scripts/uninstall.sh" >/dev/null
bash "$repo/scripts/uninstall.sh" >/dev/null
echo "after_uninstall_user=$(getent passwd kiosk >/dev/null && echo kept || echo gone)"
echo "after_uninstall_opt=$([[ -e /opt/kiosk ]] && echo present || echo gone)"
PURGE=1 bash "$repo/scripts/uninstall.sh" >/dev/null
echo "after_purge_user=$(getent passwd kiosk >/dev/null && echo kept || echo gone)"
echo "after_purge_data=$([[ -e /var/lib/kiosk ]] && echo present || echo gone)"
"""


def facts(output: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in output.splitlines() if "=" in line)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare")
def test_a_real_install_creates_the_user_and_sets_ownership(tmp_path: Path) -> None:
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True, timeout=30,
                           check=False)
    if probe.returncode != 0:
        pytest.skip("mount namespaces are not available here")
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "bash", "-c", INNER, "inner", str(tmp_path), str(REPO)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    if done.returncode != 0 and "overlay" in done.stderr and "mount" in done.stderr:
        pytest.skip(f"overlay mounts are not permitted here: {done.stderr.strip()[-200:]}")
    assert done.returncode == 0, done.stdout + done.stderr
    found = facts(done.stdout)
    assert set(found["groups"].split()) >= {"kiosk", "video", "render", "input", "audio", "lp", "dialout"}
    assert found["shell"] == "/usr/sbin/nologin"
    assert found["data"] == "kiosk:kiosk 750"
    assert found["config"] == "root:kiosk 640"
    assert found["release"] == "root 755"
    assert found["wants"] == "/etc/systemd/system/kiosk.service"
    assert found["after_uninstall_user"] == "kept" and found["after_uninstall_opt"] == "gone"
    assert found["after_purge_user"] == "gone" and found["after_purge_data"] == "gone"
    assert subprocess.run(["getent", "passwd", "kiosk"], capture_output=True, check=False).returncode != 0, (
        "the test leaked a user onto this machine"
    )
