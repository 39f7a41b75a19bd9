"""Where the pepper and the audit key come from: a systemd credential, else a 0600 file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kiosk.staff import secrets
from kiosk.staff.secrets import SecretProblem, load_audit_key, load_pepper


def test_files_are_created_once_0600_with_32_random_bytes(tmp_path: Path) -> None:
    pepper, key = load_pepper(tmp_path), load_audit_key(tmp_path)
    assert len(pepper.value) == len(key.value) == 32 and pepper.value != key.value
    for name in ("pepper", "audit.key"):
        mode = (tmp_path / "staff" / name).stat().st_mode
        assert stat.S_IMODE(mode) == 0o600, name
    assert stat.S_IMODE((tmp_path / "staff").stat().st_mode) == 0o700
    assert load_pepper(tmp_path).value == pepper.value  # kept, not regenerated
    assert sorted(path.name for path in (tmp_path / "staff").iterdir()) == ["audit.key", "pepper"]  # no temp left


def test_systemd_credentials_win_and_no_file_is_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "creds"
    credentials.mkdir()
    (credentials / "kiosk-staff-pepper").write_bytes(b"p" * 32)
    (credentials / "kiosk-audit-key").write_bytes(b"k" * 40)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    pepper, key = load_pepper(tmp_path / "data"), load_audit_key(tmp_path / "data")
    assert (pepper.value, key.value) == (b"p" * 32, b"k" * 40)
    assert pepper.source == "credential kiosk-staff-pepper"
    assert not (tmp_path / "data" / "staff").exists()


def test_a_credentials_directory_without_ours_falls_back_to_the_file(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "creds").mkdir()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    assert load_pepper(tmp_path / "data").source == str(tmp_path / "data" / "staff" / "pepper")


def test_a_short_secret_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "kiosk-audit-key").write_bytes(b"short")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path / "creds"))
    with pytest.raises(SecretProblem, match="holds 5 bytes, at least 16"):
        load_audit_key(tmp_path)


def test_a_secret_created_meanwhile_by_another_process_is_kept(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "staff" / "pepper"
    real_link = secrets.os.link

    def other_process_first(source: str, destination: Path) -> None:
        target.write_bytes(b"w" * 32)  # the other process won the race
        real_link(source, destination)

    monkeypatch.setattr(secrets.os, "link", other_process_first)
    assert load_pepper(tmp_path).value == b"w" * 32


def test_repr_never_shows_the_bytes(tmp_path: Path) -> None:
    pepper = load_pepper(tmp_path)
    assert pepper.value.hex() not in repr(pepper) and str(pepper.value) not in repr(pepper)
