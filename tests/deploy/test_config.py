"""The production template deploy/kiosk.toml and the [retention] section."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.core.config import ConfigError, RetentionSection, load_config, parse_config
from tests.deploy.conftest import REPO

TEMPLATE = REPO / "deploy" / "kiosk.toml"


def test_kiosk_config_check_passes_on_the_template() -> None:
    done = subprocess.run([sys.executable, "-m", "kiosk", "config", "check", str(TEMPLATE)], cwd=REPO,
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout


def test_the_template_is_for_production() -> None:
    config = load_config(TEMPLATE)
    assert config.kiosk.data_dir == "/var/lib/kiosk"
    assert config.display.fullscreen is True
    assert config.api.base_url.startswith("https://")
    assert config.api.public_key.startswith("/etc/kiosk/")
    assert config.log.level in ("INFO", "WARNING")
    assert config.retention == RetentionSection()   # the documented defaults, stated in the file


def test_retention_defaults_apply_when_the_section_is_missing(tmp_path: Path) -> None:
    config = parse_config("[kiosk]\nid = 'k1'\n", tmp_path / "kiosk.toml")
    assert (config.retention.receipts_days, config.retention.audit_days, config.retention.queue_history_days) == (
        90, 365, 30)


@pytest.mark.parametrize(
    ("body", "key"),
    [("audit_days = 7", "retention.audit_days"), ("receipts_days = 0", "retention.receipts_days"),
     ("queue_history_days = 30.5", "retention.queue_history_days"), ("journal_days = 3", "retention.journal_days")],
)
def test_bad_retention_values_are_refused(tmp_path: Path, body: str, key: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(f"[retention]\n{body}\n", tmp_path / "kiosk.toml")
    assert error.value.key == key and error.value.line == 2
