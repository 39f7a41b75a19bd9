"""Suite-wide settings: hypothesis profiles for the short runs in `make test` and the long ones.

`make test` runs every property-based test with a few hundred examples (deterministic, no
database of failures on disk, no deadline: CI machines are slow and shared). `make fuzz` sets
KIOSK_FUZZ_EXAMPLES (at least 100,000) and tests marked `fuzz` use it through `fuzz_settings`;
each of them prints how many examples it ran, so the long run's figures can be read off its output.
"""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, settings

settings.register_profile("kiosk", deadline=None, database=None, derandomize=True, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kiosk")

FUZZ_EXAMPLES = int(os.environ.get("KIOSK_FUZZ_EXAMPLES", "0") or 0)
SOAK_SECONDS = float(os.environ.get("KIOSK_SOAK_SECONDS", "0") or 0)
FUZZ_COUNTS: Counter[str] = Counter()  # property name -> examples run in this process


def fuzz_settings(short: int = 300, **overrides: object) -> settings:
    """`short` examples under `make test`; KIOSK_FUZZ_EXAMPLES of them under `make fuzz`
    (the long run also explores at random instead of replaying the derandomized sequence)."""
    if FUZZ_EXAMPLES:
        return settings(max_examples=FUZZ_EXAMPLES, derandomize=False, **overrides)
    return settings(max_examples=short, **overrides)


def count_example(name: str) -> None:
    """Called once per example by fuzz tests: the long run prints these counts at the end."""
    FUZZ_COUNTS[name] += 1


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if FUZZ_COUNTS:
        terminalreporter.section("examples run per property")
        for name, count in sorted(FUZZ_COUNTS.items()):
            terminalreporter.write_line(f"{count:>9,}  {name}")
