"""Configuration: defaults, overrides, and one clear exit-2 message for each kind of mistake."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.core.config import DEFAULT_CONFIG_PATH, ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, name: str = "kiosk.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def kiosk_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kiosk", *args],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env={**os.environ, **(env or {})},
    )


def test_bundled_default_is_valid():
    config = load_config(DEFAULT_CONFIG_PATH)
    assert config.kiosk.language == "es"
    assert config.display.dpi > 0


def test_a_file_with_a_few_keys_gets_defaults_for_the_rest(tmp_path):
    config = load_config(write(tmp_path, '[kiosk]\nid = "sala-2"\n'))
    assert config.kiosk.id == "sala-2"
    assert config.kiosk.idle_warning_s == 30
    assert config.display.viewing_distance_mm == 600
    assert config.log.level == "INFO"


def test_relative_paths_are_relative_to_the_file(tmp_path):
    (tmp_path / "etc").mkdir()
    config = load_config(write(tmp_path / "etc", '[kiosk]\ndata_dir = "../data"\n'))
    assert Path(config.kiosk.data_dir) == (tmp_path / "data").resolve()


def test_kiosk_config_environment_variable_chooses_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, '[kiosk]\nid = "from-env"\n')
    monkeypatch.setenv("KIOSK_CONFIG", str(path))
    assert load_config().kiosk.id == "from-env"
    assert load_config(write(tmp_path, '[kiosk]\nid = "explicit"\n', "other.toml")).kiosk.id == "explicit"


@pytest.mark.parametrize(
    ("text", "key", "line", "words"),
    [
        ('[kiosk]\nid = "a"\nidle_timeout_s = \n', "", 3, "TOML syntax error"),
        ('[kiosk]\nidle_timeot_s = 60\n', "kiosk.idle_timeot_s", 2, "unknown key"),
        ('[kiosk]\n\nidle_timeout_s = "sixty"\n', "kiosk.idle_timeout_s", 3, "expected a number"),
        ('[kiosk]\nidle_warning_s = 5\n', "kiosk.idle_warning_s", 2, "between 20 and 300"),
        ('[display]\ndpi = 0\n', "display.dpi", 2, "between 40 and 600"),
        ('[display]\nfullscreen = "yes"\n', "display.fullscreen", 2, "expected true or false"),
        ('[log]\nlevel = "LOUD"\n', "log.level", 2, "one of DEBUG, INFO, WARNING, ERROR"),
        ('[kiosk]\nlanguages = ["es", "xx"]\n', "kiosk.languages", 2, "one of es, en"),
        ('[kiosk]\nlanguage = "en"\nlanguages = ["es"]\n', "kiosk.language", 2, "must be one of kiosk.languages"),
        ('[screen]\ndpi = 96\n', "screen", 1, "unknown section"),
        ('[kiosk]\nid = "has space"\n', "kiosk.id", 2, "letters, digits"),
        ('[devices.printer]\ndriver = "escpos"\nurl = "pcsc://0"\n', "devices.printer.url", 3, "cannot use pcsc://"),
        ('[devices.cash]\ndriver = "cctalk"\nurl = "usb://04b8:0e15"\n', "devices.cash.url", 3, "cannot use usb://"),
        ('[devices.x]\ndriver = "thermal"\n', "devices.x.driver", 2, "one of escpos, pcsc, transbank"),
    ],
)
def test_each_mistake_names_file_line_key_and_expectation(tmp_path, text, key, line, words):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert error.key == key
    assert error.line == line
    assert words in str(error)
    assert str(path) in str(error)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_config_check_exits_2_with_one_line_and_no_traceback(tmp_path):
    path = write(tmp_path, "[kiosk]\nidle_timeout_s = -1\n")
    result = kiosk_cli("config", "check", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"{path}, line 2, key 'kiosk.idle_timeout_s'" in lines[0]


def test_config_check_accepts_a_good_file(tmp_path):
    result = kiosk_cli("config", "check", str(write(tmp_path, '[kiosk]\nid = "ok"\n')))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_run_with_a_bad_config_stops_with_status_2_before_opening_a_window(tmp_path):
    path = write(tmp_path, "[display]\ndpi = 'high'\n")
    result = kiosk_cli("run", "--config", str(path))
    assert result.returncode == 2
    assert "display.dpi" in result.stderr and "Traceback" not in result.stderr
    result = kiosk_cli("run", env={"KIOSK_CONFIG": str(path)})
    assert result.returncode == 2


def test_bad_command_line_use_exits_2():
    result = kiosk_cli("tour")  # --out is required
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert kiosk_cli("no-such-command").returncode == 2


def test_version():
    from kiosk import __version__

    result = kiosk_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"kiosk {__version__}"


# ---- numbers that pass every range check because every comparison with NaN is false ----------

def _number_fields(kind: type) -> list[tuple[str, str]]:
    import dataclasses

    from kiosk.core.config import SECTIONS

    return [(section, spec.name) for section, section_type in SECTIONS.items()
            for spec in dataclasses.fields(section_type) if str(spec.type) == kind.__name__]


FLOAT_FIELDS = _number_fields(float)
INT_FIELDS = _number_fields(int)


def test_every_bounded_number_is_covered():
    assert ("kiosk", "idle_timeout_s") in FLOAT_FIELDS and ("staff", "lockout_minutes") in FLOAT_FIELDS
    assert len(FLOAT_FIELDS) >= 20 and len(INT_FIELDS) >= 8


@pytest.mark.parametrize("literal", ["nan", "+nan", "-nan", "inf", "+inf", "-inf", "1e999", "-1e999", "1" + "0" * 400])
@pytest.mark.parametrize(("section", "key"), FLOAT_FIELDS)
def test_non_finite_numbers_are_refused_at_load(tmp_path, section, key, literal):
    path = write(tmp_path, f'[{section}]\n\n{key} = {literal}\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert (error.key, error.line) == (f"{section}.{key}", 3)
    assert "expected a finite number" in error.problem and "between" in error.problem
    assert str(path) in str(error)


@pytest.mark.parametrize("literal", [str(2**63), str(-(2**63) - 1), "9" * 30])
@pytest.mark.parametrize(("section", "key"), INT_FIELDS)
def test_integers_beyond_64_bits_are_refused_at_load(tmp_path, section, key, literal):
    path = write(tmp_path, f'[{section}]\n{key} = {literal}\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert (caught.value.key, caught.value.line) == (f"{section}.{key}", 2)
    assert "expected an integer" in caught.value.problem


def test_a_number_too_long_to_read_is_refused_with_its_line_and_key(tmp_path):
    path = write(tmp_path, '[kiosk]\nid = "a"\n\n[api]\nretry_attempts = ' + "9" * 5000 + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert (caught.value.key, caught.value.line) == ("api.retry_attempts", 5)
    assert "at most 4300 digits" in caught.value.problem


@pytest.mark.parametrize(("text", "key", "words"), [
    ("[kiosk]\nidle_timeout_s = nan\n", "kiosk.idle_timeout_s", "got nan"),
    ("[staff]\nlockout_minutes = inf\n", "staff.lockout_minutes", "got inf"),
    ("[api]\ntimeout_s = " + "1" + "0" * 400 + "\n", "api.timeout_s", "got a number of 401 digits"),
    ("[api]\nretry_attempts = " + "9" * 5000 + "\n", "api.retry_attempts", "at most 4300 digits"),
])
def test_config_check_refuses_non_finite_numbers_with_one_line(tmp_path, text, key, words):
    path = write(tmp_path, text)
    result = kiosk_cli("config", "check", str(path))
    assert result.returncode == 2, result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{path}, line 2, key '{key}'" in lines[0] and words in lines[0]
