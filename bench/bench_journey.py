"""Citizen journey benchmarks: touch to next screen on real catalog screens; tree for 10,000."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.bench_shell import percentile
from bench.harness import Measurement

ROOT = Path(__file__).resolve().parent.parent
TOUCHES = 60
TREE_RUNS = 5


def tree_build_ms(count: int = 10_000) -> list[float]:
    from kiosk.catalog.navtree import build_tree
    from kiosk.catalog.sample import build_synthetic

    document = build_synthetic(count)
    timings = []
    for _ in range(TREE_RUNS):
        started = time.perf_counter()
        build_tree(document["categories"], document["procedures"], "es")
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def catalog_touches() -> list[float]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run([sys.executable, "-m", "bench.journey_probe", str(TOUCHES)], capture_output=True,
                            text=True, timeout=300, cwd=ROOT, env=env, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])["touch_ms"]


def run() -> list[Measurement]:
    latencies = catalog_touches()
    builds = tree_build_ms()
    return [
        Measurement("catalog_touch_to_next_screen_p50", percentile(latencies, 0.5), "ms",
                    detail=f"{len(latencies)} touches: home, menus, procedure pages, page turns, search keys"),
        Measurement("catalog_touch_to_next_screen_p95", percentile(latencies, 0.95), "ms",
                    detail=f"{len(latencies)} touches on the sample catalog"),
        Measurement("nav_tree_build_10000", statistics.median(builds), "ms",
                    detail=f"median of {TREE_RUNS} builds of the tree for 10,000 synthetic procedures"),
    ]
