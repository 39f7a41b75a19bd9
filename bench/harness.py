"""Benchmark harness: every `bench/bench_<area>.py` module exposes `run() -> list[Measurement]`.

Budgets live in `bench/budgets.toml`, one table per measurement name, with any of:
`max` (value at most this), `min` (value at least this), `max_ratio` (value / baseline at most
this), `min_ratio` (value / baseline at least this), `max_over_baseline` (value - baseline at
most this). Results are printed as a table and written to `bench/results.json`.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import platform
import sys
import time
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


@dataclass
class Measurement:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    detail: str = ""


@dataclass
class Verdict:
    measurement: Measurement
    budget: str
    ok: bool | None  # None: no budget for this measurement


def judge(measurement: Measurement, budget: dict) -> Verdict:
    if not budget:
        return Verdict(measurement, "-", None)
    value, base = measurement.value, measurement.baseline
    checks: list[tuple[str, bool]] = []
    if "max" in budget:
        checks.append((f"<= {budget['max']} {measurement.unit}", value <= budget["max"]))
    if "min" in budget:
        checks.append((f">= {budget['min']} {measurement.unit}", value >= budget["min"]))
    if base:
        if "max_ratio" in budget:
            checks.append((f"<= {budget['max_ratio']}x baseline", value / base <= budget["max_ratio"]))
        if "min_ratio" in budget:
            checks.append((f">= {budget['min_ratio']}x baseline", value / base >= budget["min_ratio"]))
        if "max_over_baseline" in budget:
            checks.append(
                (f"<= baseline + {budget['max_over_baseline']} {measurement.unit}",
                 value - base <= budget["max_over_baseline"])
            )
    elif any(key in budget for key in ("max_ratio", "min_ratio", "max_over_baseline")):
        checks.append(("baseline missing", False))
    return Verdict(measurement, "; ".join(text for text, _ in checks), all(ok for _, ok in checks))


def discover(selected: list[str]) -> list[str]:
    names = sorted(info.name for info in pkgutil.iter_modules([str(BENCH_DIR)]) if info.name.startswith("bench_"))
    if selected:
        names = [name for name in names if any(name.endswith(choice) for choice in selected)]
    return names


def format_table(verdicts: list[Verdict]) -> str:
    rows = [("benchmark", "value", "baseline", "budget", "result")]
    for verdict in verdicts:
        m = verdict.measurement
        baseline = f"{m.baseline:.2f} ({m.baseline_name})" if m.baseline is not None else "-"
        result = {True: "ok", False: "OVER BUDGET", None: "info"}[verdict.ok]
        rows.append((m.name, f"{m.value:.2f} {m.unit}", baseline, verdict.budget, result))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    budgets = tomllib.loads((BENCH_DIR / "budgets.toml").read_text(encoding="utf-8"))
    verdicts: list[Verdict] = []
    started = time.time()
    for module_name in discover(argv):
        module = importlib.import_module(f"bench.{module_name}")
        print(f"running {module_name} ...", file=sys.stderr, flush=True)
        for measurement in module.run():
            verdicts.append(judge(measurement, budgets.get(measurement.name, {})))
    print(format_table(verdicts))
    results = {
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "results": [
            {**asdict(v.measurement), "budget": v.budget, "ok": v.ok} for v in verdicts
        ],
    }
    (BENCH_DIR / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    failed = [v.measurement.name for v in verdicts if v.ok is False]
    if failed:
        print(f"over budget: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
