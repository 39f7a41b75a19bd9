"""The procedure record: the validator accepts the sample and names what is wrong in bad records."""

from __future__ import annotations

import copy
import json

import pytest

from kiosk.catalog.model import Invalid, validate_catalog, validate_procedure
from kiosk.catalog.sample import SAMPLE_PATH, build_sample, build_synthetic

REQUIRED_CATEGORIES = {"predial", "agua", "registro_civil", "desarrollo_urbano", "licencias_comerciales",
                       "transito", "catastro", "medio_ambiente", "panteones", "programas_sociales",
                       "proteccion_civil"}


def test_bundled_sample_is_valid_and_big_enough():
    document = json.loads(SAMPLE_PATH.read_text(encoding="utf-8"))
    validate_catalog(document)
    procedures = document["procedures"]
    categories = {cat for record in procedures for cat in record["categories"]}
    assert len(procedures) >= 150
    assert categories >= REQUIRED_CATEGORIES and len(categories) >= 10
    assert document["municipality"]["currency"] == "MXN"


def test_sample_answers_the_six_questions():
    document = build_sample()
    for record in document["procedures"]:
        assert record["costs"] and record["deadlines"] and record["offices"]
        office = record["offices"][0]
        assert office["address"]["floor"] and office["hours"]
    kinds = {cost["kind"] for record in document["procedures"] for cost in record["costs"]}
    assert kinds == {"fixed", "range", "formula", "free", "variable"}
    copies = [req for record in document["procedures"] for req in record.get("requirements", ())
              if req.get("copies", 0) > 0]
    assert copies
    predial = next(r for r in document["procedures"] if r["id"] == "sadv:PRE-001")
    assert predial["costs"][0]["discounts"][0] == {"from": "2026-01-01", "to": "2026-01-31", "percent": "15",
                                                   "text": {"es": "Pago anual en enero"}}
    kiosk = next(c for c in predial["channels"] if c["type"] == "kiosk")["kiosk"]
    assert kiosk["pay"] and kiosk["account"] == "clave_catastral"


def test_generator_is_deterministic_and_matches_the_committed_file():
    assert build_sample() == build_sample()
    assert json.loads(SAMPLE_PATH.read_text(encoding="utf-8")) == build_sample()


def test_synthetic_catalog_is_valid():
    document = build_synthetic(400)
    validate_catalog(document)
    assert len({record["id"] for record in document["procedures"]}) == 400


@pytest.fixture
def record():
    return copy.deepcopy(build_sample()["procedures"][0])


BAD_CASES = [
    (lambda r: r.pop("authority"), "missing required field 'authority'"),
    (lambda r: r.update(name="Pago"), "name: expected an object of texts per language"),
    (lambda r: r.update(status="borrado"), "status: expected one of active, suspended, withdrawn"),
    (lambda r: r["costs"][0].update(amount="12,50", kind="fixed"), "costs[0].amount: expected a decimal string"),
    (lambda r: r["costs"][0].update(currency="PESOS"), "costs[0].currency: expected an ISO 4217"),
    (lambda r: r["costs"][0].update(kind="range"), "costs[0]: a 'range' cost needs 'min'"),
    (lambda r: r["costs"][0].update(kind="range", min="10.00", max="5.00"), "'min' is greater than 'max'"),
    (lambda r: r["costs"][0]["discounts"][0].update(percent="150"), "percent must be above 0"),
    (lambda r: r["deadlines"][0].update(duration="3 días"), "deadlines[0].duration: expected an ISO 8601 duration"),
    (lambda r: r["offices"][0]["hours"][0].update(opens="16:00"), "'opens' must be before 'closes'"),
    (lambda r: r["channels"][0].update(office_ids=["of-nada"]), "unknown office 'of-nada'"),
    (lambda r: r["requirements"].append(dict(r["requirements"][0])), "duplicate id"),
    (lambda r: r["meta"].update(reviewed_at="15/12/2025"), "meta.reviewed_at: expected a date"),
    (lambda r: r.update(popularity=True), "popularity: expected an integer"),
    (lambda r: r["offices"][0]["geo"].update(lat=123.0), "geo.lat: expected a number between -90"),
]


@pytest.mark.parametrize(("breaker", "message"), BAD_CASES)
def test_validator_names_the_problem(record, breaker, message):
    breaker(record)
    with pytest.raises(Invalid) as failure:
        validate_procedure(record)
    assert message in str(failure.value)


def test_unknown_keys_are_tolerated_for_forward_compatibility(record):
    record["new_field_from_a_newer_server"] = {"x": 1}
    validate_procedure(record)


def test_catalog_rejects_unknown_category():
    document = build_sample()
    document["procedures"][0]["categories"] = ["astrologia"]
    with pytest.raises(Invalid, match="unknown category 'astrologia'"):
        validate_catalog(document)


def test_amount_due_follows_dates_in_force_and_discounts():
    import datetime as dt
    from decimal import Decimal

    from kiosk.catalog.model import amount_due

    cost = {"id": "c", "kind": "fixed", "amount": "1000.00", "currency": "MXN", "effective_from": "2026-01-01",
            "effective_to": "2026-12-31", "discounts": [
                {"from": "2026-01-01", "to": "2026-01-31", "percent": "15"},
                {"from": "2026-02-01", "to": "2026-02-28", "percent": "10"}]}
    assert amount_due(cost, dt.date(2026, 1, 31)) == Decimal("850.00")
    assert amount_due(cost, dt.date(2026, 2, 1)) == Decimal("900.00")
    assert amount_due(cost, dt.date(2026, 3, 1)) == Decimal("1000.00")
    assert amount_due(cost, dt.date(2027, 1, 2)) is None  # next year's Ley de Ingresos must say
    assert amount_due({"id": "f", "kind": "free"}, dt.date(2026, 5, 5)) == Decimal("0.00")
    assert amount_due({"id": "r", "kind": "range", "min": "1.00", "max": "2.00", "currency": "MXN"},
                      dt.date(2026, 5, 5)) is None
    odd = dict(cost, amount="204.50", discounts=[{"from": "2026-01-01", "to": "2026-01-31", "percent": "12"}])
    assert amount_due(odd, dt.date(2026, 1, 10)) == Decimal("179.96")  # 179.96 exactly: 204.50 * 0.88


def test_kiosk_actions_for_the_navigation_tree():
    from kiosk.catalog.model import kiosk_actions

    records = {r["id"]: r for r in build_sample()["procedures"]}
    predial = kiosk_actions(records["sadv:PRE-001"])
    assert (predial["pay"], predial["request"], predial["print"]) == (True, False, True)
    assert predial["account"] == "clave_catastral"
    assert kiosk_actions(records["sadv:RC-002"])["pay"] is False  # birth registration: in person only
    suspended = dict(records["sadv:PRE-004"], status="suspended")
    assert kiosk_actions(suspended)["request"] is False


def test_random_damage_only_ever_raises_invalid():
    # Whatever a broken server sends, validation answers with Invalid (a named problem), never a crash.
    import random

    rng = random.Random(11)
    base = build_sample()["procedures"]
    junk = [None, 0, -1, 1.5, True, "", "x", [], {}, [1], {"a": 1}, "2026-13-45", "P", "1e3"]
    crashes = []
    for attempt in range(1500):
        record = copy.deepcopy(rng.choice(base))
        for _ in range(rng.randint(1, 3)):
            _damage(record, rng, junk)
        try:
            validate_procedure(record)
        except Invalid:
            pass
        except Exception as error:  # the point is to catch anything else
            crashes.append((attempt, repr(error)))
    assert crashes == []


def _damage(node, rng, junk) -> None:
    path = []
    while isinstance(node, (dict, list)) and node and rng.random() < 0.7:
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        if not isinstance(node[key], (dict, list)) or not node[key]:
            break
        path.append(key)
        node = node[key]
    if isinstance(node, dict) and node:
        key = rng.choice(list(node))
        if rng.random() < 0.3:
            del node[key]
        else:
            node[key] = rng.choice(junk)
    elif isinstance(node, list) and node:
        node[rng.randrange(len(node))] = rng.choice(junk)


def test_deeply_nested_json_is_a_named_failure():
    from kiosk.catalog.sync import CatalogSync, SyncError

    with pytest.raises(SyncError) as failure:
        CatalogSync._parse(b"[" * 100_000 + b"]" * 100_000)
    assert failure.value.code == "malformed_json"
