"""`make install` / `make uninstall` into a staging root: the tree, config kept on upgrade,
idempotence, what uninstall keeps, and the OS lock-down it does and undoes."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.deploy.conftest import REPO, VERSION, install, run_script, tree, uninstall

RELEASE = f"/opt/kiosk/releases/{VERSION}"

# Installed file -> the repository file it must be a copy of.
COPIES = {
    "/etc/systemd/system/kiosk.service": "kiosk.service",
    "/etc/udev/rules.d/99-kiosk.rules": "deploy/udev/99-kiosk.rules",
    "/etc/systemd/journald.conf.d/kiosk.conf": "deploy/journald-kiosk.conf",
    "/etc/systemd/logind.conf.d/kiosk.conf": "deploy/logind-kiosk.conf",
    "/etc/sysctl.d/90-kiosk.conf": "deploy/sysctl-kiosk.conf",
    "/etc/pam.d/kiosk": "deploy/pam-kiosk",
    "/etc/kiosk/kiosk.toml": "deploy/kiosk.toml",
    "/etc/kiosk/kiosk.toml.dist": "deploy/kiosk.toml",
    f"{RELEASE}/share/kiosk/kiosk.service": "kiosk.service",
    f"{RELEASE}/share/kiosk/kiosk-x11.conf": "deploy/kiosk-x11.conf",
    f"{RELEASE}/share/kiosk/kiosk-xorg.conf": "deploy/kiosk-xorg.conf",
    f"{RELEASE}/share/doc/kiosk/deployment.md": "docs/deployment.md",
}


def read(root: Path, path: str) -> str:
    return (root / path.lstrip("/")).read_text(encoding="utf-8")


def test_install_lays_out_the_tree(staged: Path) -> None:
    for installed, source in COPIES.items():
        assert read(staged, installed) == (REPO / source).read_text(encoding="utf-8"), installed
    listing = tree(staged)
    assert listing["/opt/kiosk/current"] == f"link -> releases/{VERSION}"
    assert (staged / "opt/kiosk/current/RELEASE").read_text().startswith(f"version={VERSION}\n")
    assert listing["/etc/systemd/system/multi-user.target.wants/kiosk.service"] == (
        "link -> /etc/systemd/system/kiosk.service"
    )
    assert listing["/etc/systemd/system/ctrl-alt-del.target"] == "link -> /dev/null"
    assert listing["/etc/kiosk/kiosk.toml"] == "file 0o640"   # holds the API address and key paths
    assert listing["/var/lib/kiosk"] == "dir 0o750"
    assert listing["/etc/udev/rules.d/99-kiosk.rules"] == "file 0o644"
    assert listing["/etc/systemd/system/kiosk.service"] == "file 0o644"
    # Nothing in the release is writable by the group or others.
    for path, kind in listing.items():
        if path.startswith(RELEASE) and not kind.startswith("link"):
            assert int(kind.split()[1], 8) & 0o022 == 0, (path, kind)


def test_install_twice_is_idempotent_and_keeps_the_config(staged: Path) -> None:
    first = tree(staged)
    config = staged / "etc/kiosk/kiosk.toml"
    edited = config.read_text().replace('id = "kiosk-01"', 'id = "alcaldia-centro-02"')
    config.write_text(edited)
    (staged / "var/lib/kiosk/outbox.sqlite").write_bytes(b"queued payments")
    (staged / "etc/kiosk/kiosk.toml.dist").write_text("an older template\n")

    second = install(staged)

    assert "keeping /etc/kiosk/kiosk.toml" in second.stdout
    assert config.read_text() == edited, "an upgrade overwrote the kiosk's configuration"
    assert read(staged, "/etc/kiosk/kiosk.toml.dist") == (REPO / "deploy/kiosk.toml").read_text()
    assert (staged / "var/lib/kiosk/outbox.sqlite").read_bytes() == b"queued payments"
    after = tree(staged)
    after.pop("/var/lib/kiosk/outbox.sqlite")
    assert after == first
    assert not list((staged / "opt/kiosk/releases").glob("*.previous"))


def test_uninstall_twice_keeps_config_and_data(staged: Path) -> None:
    (staged / "var/lib/kiosk/outbox.sqlite").write_bytes(b"queued payments")
    first = uninstall(staged)
    second = uninstall(staged)
    assert "kept /var/lib/kiosk" in first.stdout and "kept /var/lib/kiosk" in second.stdout
    left = tree(staged)
    assert not [path for path in left if path.startswith("/opt/kiosk")]
    for gone in ("/etc/systemd/system/kiosk.service", "/etc/systemd/system/multi-user.target.wants/kiosk.service",
                 "/etc/systemd/system/ctrl-alt-del.target", "/etc/udev/rules.d/99-kiosk.rules",
                 "/etc/systemd/journald.conf.d/kiosk.conf", "/etc/systemd/logind.conf.d/kiosk.conf",
                 "/etc/sysctl.d/90-kiosk.conf", "/etc/pam.d/kiosk", "/etc/kiosk/kiosk.toml.dist"):
        assert gone not in left, gone
    assert read(staged, "/etc/kiosk/kiosk.toml") == (REPO / "deploy/kiosk.toml").read_text()
    assert (staged / "var/lib/kiosk/outbox.sqlite").read_bytes() == b"queued payments"
    # Installing again after an uninstall picks the kept configuration up.
    again = install(staged)
    assert "keeping /etc/kiosk/kiosk.toml" in again.stdout


def test_purge_removes_everything(staged: Path) -> None:
    (staged / "var/lib/kiosk/outbox.sqlite").write_bytes(b"x")
    uninstall(staged, PURGE="1")
    uninstall(staged, PURGE="1")
    files = [path for path, kind in tree(staged).items() if not kind.startswith("dir")]
    assert files == [], f"left behind after PURGE=1: {files}"


def test_make_targets_pass_destdir_and_purge(tmp_path: Path) -> None:
    root = tmp_path / "stage"
    env = {key: value for key, value in os.environ.items() if key not in ("DESTDIR", "PURGE", "MAKEFLAGS")}
    env["KIOSK_INSTALL_SKIP_VENV"] = "1"

    def make(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["make", "-s", "-C", str(REPO), *args], env=env, capture_output=True, text=True,
                              timeout=60, check=False)

    for _ in range(2):
        done = make("install", f"DESTDIR={root}")
        assert done.returncode == 0, done.stderr
    assert (root / "etc/systemd/system/kiosk.service").is_file()
    for _ in range(2):
        done = make("uninstall", f"DESTDIR={root}", "PURGE=1")
        assert done.returncode == 0, done.stderr
    assert not (root / "etc/kiosk").exists() and not (root / "var/lib/kiosk").exists()


def test_lockdown_is_undone_only_where_install_did_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    system = root / "etc/systemd/system"
    # A machine whose administrator masked ctrl-alt-del already, with Debian's getty on tty1.
    system.mkdir(parents=True)
    (system / "ctrl-alt-del.target").symlink_to("/dev/null")
    getty_unit = root / "lib/systemd/system/getty@.service"
    getty_unit.parent.mkdir(parents=True)
    getty_unit.write_text("[Service]\nExecStart=/sbin/agetty %I\n")
    (system / "getty.target.wants").mkdir()
    (system / "getty.target.wants/getty@tty1.service").symlink_to("/lib/systemd/system/getty@.service")

    install(root)
    install(root)
    assert not (system / "getty.target.wants/getty@tty1.service").is_symlink(), "login prompt left on tty1"
    uninstall(root)
    uninstall(root)
    assert os.readlink(system / "getty.target.wants/getty@tty1.service") == "/lib/systemd/system/getty@.service"
    assert os.readlink(system / "ctrl-alt-del.target") == "/dev/null", "removed the administrator's own mask"


def test_old_releases_are_pruned(staged: Path) -> None:
    releases = staged / "opt/kiosk/releases"
    now = time.time()
    for age, name in enumerate(["0.0.9", "0.0.8", "0.0.7"], start=1):
        (releases / name).mkdir()
        os.utime(releases / name, (now - age * 86400, now - age * 86400))
    install(staged, KIOSK_KEEP_RELEASES="2")
    assert sorted(path.name for path in releases.iterdir()) == sorted([VERSION, "0.0.9"])


def test_a_failed_build_keeps_the_running_release(staged: Path) -> None:
    before = tree(staged)
    failed = run_script("install.sh", staged, PYTHON="/nonexistent/python3")
    assert failed.returncode != 0
    assert "not found" in failed.stderr
    assert tree(staged) == before, "a failed upgrade changed the installed release"


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to drop to another user")
def test_a_real_install_refuses_to_run_without_root() -> None:
    # The unprivileged user must be able to read the script wherever the checkout lives (a clone
    # in a 0700 directory is not readable by "nobody"), so it runs from a readable copy.
    place = Path(tempfile.mkdtemp(prefix="kiosk-install-as-nobody-"))
    try:
        place.chmod(0o755)
        shutil.copytree(REPO / "scripts", place / "scripts")  # the script and what it reads first
        (place / "kiosk").mkdir()
        shutil.copy(REPO / "kiosk" / "__init__.py", place / "kiosk" / "__init__.py")
        for path in place.rglob("*"):
            path.chmod(0o755 if path.is_dir() or path.suffix == ".sh" else 0o644)
        script = place / "scripts" / "install.sh"
        env = {"PATH": os.environ["PATH"], "HOME": str(place)}
        done = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", str(script)],
            env=env, capture_output=True, text=True, timeout=30, check=False, cwd=place,
        )
    finally:
        shutil.rmtree(place, ignore_errors=True)
    assert done.returncode == 1, done.stderr
    assert "run as root" in done.stderr


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="shellcheck is not installed (scripts/apt-packages.txt)")
def test_the_scripts_pass_shellcheck() -> None:
    done = subprocess.run(["shellcheck", "scripts/install.sh", "scripts/uninstall.sh"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout
