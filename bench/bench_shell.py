"""Foundation benchmarks: cold start, touch to next screen, memory; the kiosk against bare Kivy."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import Measurement

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
TOUCHES = 100


def probe(variant: str, touches: int = 0) -> tuple[float, dict]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    started = time.time()
    result = subprocess.run([sys.executable, "-m", "bench.shell_probe", variant, str(touches)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT, env=env, check=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return (report["done"] - started) * 1000, report


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def run() -> list[Measurement]:
    probe("bare")  # warm the file cache so neither side pays for the first disk read
    bare_runs = [probe("bare") for _ in range(RUNS)]
    kiosk_runs = [probe("kiosk") for _ in range(RUNS)]
    _, touched = probe("kiosk", TOUCHES)
    bare_ms = statistics.median(ms for ms, _ in bare_runs)
    kiosk_ms = statistics.median(ms for ms, _ in kiosk_runs)
    bare_rss = statistics.median(report["rss_mb"] for _, report in bare_runs)
    kiosk_rss = statistics.median(report["rss_mb"] for _, report in kiosk_runs)
    latencies = touched["touch_ms"]
    return [
        Measurement("cold_start_to_home", kiosk_ms, "ms", bare_ms, "bare Kivy app",
                    f"median of {RUNS}; process spawn to home drawn after the waking touch"),
        Measurement("touch_to_next_screen_p50", percentile(latencies, 0.5), "ms",
                    detail=f"{len(latencies)} touches, release to next screen drawn"),
        Measurement("touch_to_next_screen_p95", percentile(latencies, 0.95), "ms",
                    detail=f"{len(latencies)} touches, release to next screen drawn"),
        Measurement("rss_after_start", kiosk_rss, "MB", bare_rss, "bare Kivy app", f"median of {RUNS}"),
    ]
