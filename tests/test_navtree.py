"""The navigation tree built from the catalog: limits, reachability, popular first, stats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk.catalog.navtree import MAX_HOME_OPTIONS, MAX_OPTIONS, build_tree, nav_stats
from kiosk.flows.journey import SAMPLE_CATALOG


@pytest.fixture(scope="module")
def sample():
    return json.loads(Path(SAMPLE_CATALOG).read_text(encoding="utf-8"))


def synthetic(count: int, categories: int = 12) -> tuple[list[dict], list[dict]]:
    cats = [{"id": f"c{i}", "name": {"es": f"Tema {i}"}, "order": i} for i in range(categories)]
    procedures = [
        {"id": f"p{i}", "status": "active", "name": {"es": f"Trámite {i}"}, "popularity": 10_000 // (i + 1),
         "categories": [f"c{i % categories}"],
         "channels": [{"type": "kiosk", "kiosk": {"pay": i % 5 == 0, "request": True, "print": True}}]}
        for i in range(count)
    ]
    return cats, procedures


def limits_hold(tree) -> None:
    assert len(tree.children) <= MAX_HOME_OPTIONS
    for node, _depth in tree.walk():
        if node is not tree:
            assert len(node.children) <= MAX_OPTIONS, node.title


def test_sample_tree_respects_limits_and_reaches_every_active_procedure(sample):
    tree = build_tree(sample["categories"], sample["procedures"], "es")
    limits_hold(tree)
    active = [p["id"] for p in sample["procedures"] if p["status"] == "active"]
    stats = nav_stats(tree, active)
    assert stats.unreachable == []
    assert stats.procedures == len(active)


def test_sample_tree_meets_the_touch_budget(sample):
    tree = build_tree(sample["categories"], sample["procedures"], "es")
    stats = nav_stats(tree, [p["id"] for p in sample["procedures"] if p["status"] == "active"])
    assert stats.max_touches <= 5
    assert stats.weighted_mean_touches <= 3.0
    top = sorted((p for p in sample["procedures"] if p["status"] == "active"), key=lambda p: -p["popularity"])[:3]
    touches = {title: depth for depth, title in stats.popular}
    for procedure in top:
        assert touches[procedure["name"]["es"]] <= 2


def test_withdrawn_and_suspended_procedures_are_not_offered(sample):
    procedures = [dict(p) for p in sample["procedures"]]
    procedures[0]["status"] = "suspended"
    tree = build_tree(sample["categories"], procedures, "es")
    ids = {node.procedure_id for node, _ in tree.walk() if node.procedure_id}
    assert procedures[0]["id"] not in ids


@pytest.mark.parametrize("count", [1, 6, 7, 40, 500, 10_000])
def test_any_catalog_size_fits_the_limits(count):
    cats, procedures = synthetic(count)
    tree = build_tree(cats, procedures, "es")
    limits_hold(tree)
    stats = nav_stats(tree, [p["id"] for p in procedures])
    assert stats.unreachable == []
    assert stats.popular[0][0] <= 2  # the most popular is always two touches away


def test_group_names_say_what_is_inside():
    cats, procedures = synthetic(300, categories=20)
    tree = build_tree(cats, procedures, "es")
    groups = [node for node, _ in tree.walk() if node.id.startswith("group:")]
    assert groups
    for group in groups:
        listed = group.title + " " + group.subtitle
        assert all(child.title in listed for child in group.children[:1])


def test_an_empty_catalog_still_offers_the_intents():
    tree = build_tree([], [], "es")
    assert [node.id for node in tree.children] == ["pay", "procedures", "search"]


def test_nav_stats_command_reports_the_budget_figures(tmp_path):
    import subprocess
    import sys

    config = tmp_path / "kiosk.toml"
    config.write_text(f'[kiosk]\ndata_dir = "{tmp_path}"\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "kiosk", "catalog", "nav-stats", "--json", "--config", str(config)],
                            capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["max_touches"] <= 5 and report["weighted_mean_touches"] <= 3.0
    assert report["widest_home"] <= 3 and report["widest_screen"] <= 6 and report["unreachable"] == []
