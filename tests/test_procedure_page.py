"""Procedure pages: each of the six answers worded from the record, as the catalog states it."""

from __future__ import annotations

import datetime as dt

from kiosk.core.i18n import Translator
from kiosk.flows.procedure_page import PageWriter, format_money

OFFICE = {
    "id": "of", "name": {"es": "Tesorería, cajas"},
    "address": {"street": "Av. Hidalgo", "number": "1", "building": "Palacio Municipal", "floor": "Planta baja"},
    "hours": [{"days": [1, 2, 3, 4, 5], "opens": "08:00", "closes": "15:00"}],
    "closures": [{"date": "2026-12-25", "reason": {"es": "Navidad"}}],
}
RECORD = {
    "id": "p1", "status": "active", "name": {"es": "Pago del predial"},
    "summary": {"es": "Pague el predial."}, "description": {"es": "Pague el predial. Con descuento en enero."},
    "audience": [{"who": "persona_fisica"}],
    "authority": {"name": {"es": "Tesorería Municipal"}, "unit": {"es": "Ingresos"}},
    "offices": [OFFICE],
    "requirements": [
        {"name": {"es": "Identificación"}, "original": 1, "copies": 2},
        {"name": {"es": "Acta"}, "certified_copies": 1, "procedure_id": "p0"},
    ],
    "deadlines": [{"kind": "resolve", "duration": "P5D", "day_kind": "business", "silence_rule": "afirmativa_ficta"}],
    "outputs": [{"name": {"es": "Recibo"}, "validity": "P1Y"}],
    "costs": [
        {"kind": "fixed", "amount": "1234.5", "currency": "MXN", "discounts": [
            {"from": "2026-01-01", "to": "2026-01-31", "percent": "15", "text": {"es": "pago en enero"}}]},
        {"kind": "range", "min": "100", "max": "500", "currency": "MXN", "effective_to": "2025-12-31"},
    ],
    "channels": [{"type": "kiosk", "kiosk": {"pay": True, "request": False, "print": True}}],
}
PREVIOUS = {"id": "p0", "name": {"es": "Copia certificada de acta"}}


def write(when: dt.datetime, language: str = "es") -> dict[str, list[str]]:
    writer = PageWriter(Translator(language), now=lambda: when)
    catalog = {"p0": PREVIOUS}.get
    return {s.key: list(s.lines) for s in writer.sections(RECORD, catalog, followers=[{"name": {"es": "Después"}}])}


def test_what_and_who_without_repeating_the_summary():
    what = write(dt.datetime(2026, 1, 14, 10))["what"]
    assert what[0] == "Pague el predial."
    assert what[1] == "Con descuento en enero."
    assert "Personas" in what[2]


def test_where_says_building_floor_and_whether_open_now():
    assert "abierto ahora" in write(dt.datetime(2026, 1, 14, 10))["where"][-1]
    assert "cerrado en este momento" in write(dt.datetime(2026, 1, 14, 16))["where"][-1]
    assert write(dt.datetime(2026, 1, 17, 10))["where"][-1] == "Hoy no abre."  # a Saturday
    assert "Navidad" in write(dt.datetime(2026, 12, 25, 10))["where"][-1]
    assert "Palacio Municipal, Planta baja" in write(dt.datetime(2026, 1, 14, 10))["where"]


def test_documents_say_originals_and_copies():
    bring = write(dt.datetime(2026, 1, 14, 10))["bring"]
    assert bring[0] == "• Identificación: original y 2 copias."
    assert bring[1] == "• Acta: 1 copia certificada."


def test_before_and_after():
    order = write(dt.datetime(2026, 1, 14, 10))["order"]
    assert "Antes: Copia certificada de acta." in order
    assert "Al final recibe: Recibo, válido 1 año." in order
    assert "Después puede hacer: Después." in order


def test_time_and_cost_exactly_as_stated_with_todays_discount():
    cost = write(dt.datetime(2026, 1, 14, 10))["cost"]
    assert cost[0].startswith("Tiempo de respuesta: 5 días hábiles.")
    assert "a su favor" in cost[0]
    assert cost[1].startswith("Costo: $1,234.50 MXN.")
    assert "15 % de descuento" in cost[1] and "31/01/2026" in cost[1]
    assert len(cost) == 2  # the range cost is no longer in force
    february = write(dt.datetime(2026, 2, 14, 10))["cost"]
    assert "descuento" not in february[1]


def test_english_labels_with_catalog_text_falling_back_to_spanish():
    sections = write(dt.datetime(2026, 1, 14, 10), "en")
    assert sections["bring"][0] == "• Identificación: original and 2 copies."
    assert sections["cost"][0].startswith("Response time: 5 business days.")


def test_money_format():
    assert format_money("1234.5") == "$1,234.50 MXN"
    assert format_money("0") == "$0.00 MXN"
    assert format_money("abc") == "abc MXN"


def requestable(costs: list[dict], **channel: object) -> dict:
    """RECORD offered for request at the kiosk, with these costs and the sample's other channels."""
    kiosk = {"type": "kiosk", "kiosk": {"pay": True, "request": True, "print": True}}
    channels = [{"type": "in_person", "office_ids": ["of"]}, {"type": "phone", "phone": "222 555 0160"},
                {"type": "online", "url": "https://tramites.example/pipa"}, kiosk]
    return {**RECORD, "costs": costs, "channels": channels, **channel}


def actions_on(record: dict, when: dt.datetime, language: str = "es") -> list[str]:
    return [action.key for action in PageWriter(Translator(language), now=lambda: when).actions(record)]


def where_on(record: dict, when: dt.datetime, language: str = "es") -> list[str]:
    return PageWriter(Translator(language), now=lambda: when).where(record)


JANUARY = dt.datetime(2026, 1, 14, 10)
RANGE = {"kind": "range", "min": "350", "max": "900", "currency": "MXN"}


def test_a_request_with_a_price_known_today_is_offered():
    record = requestable([{"kind": "fixed", "amount": "204.50"}, {"kind": "free"}])
    assert actions_on(record, JANUARY) == ["request", "print"]
    assert not any("no se puede solicitar" in line for line in where_on(record, JANUARY))


def test_a_request_priced_case_by_case_is_not_offered_and_the_page_says_where_to_make_it():
    """The issue's "Pipa de agua": a range of prices. Offering it ended in a crash on the bill."""
    record = requestable([RANGE])
    assert actions_on(record, JANUARY) == ["print"]  # neither "Solicitar aquí" nor a debt to pay
    line = where_on(record, JANUARY)[-1]
    assert line.startswith("En este kiosco no se puede solicitar: el costo depende de su caso.")
    assert "en Tesorería, cajas" in line and "por teléfono al 222 555 0160" in line
    assert line.endswith("o en internet: https://tramites.example/pipa.")
    english = where_on(record, JANUARY, "en")[-1]
    assert english.startswith("It cannot be requested at this kiosk: the cost depends on your case.")
    assert "by phone on 222 555 0160" in english and "at Tesorería, cajas" in english


def test_a_formula_or_a_tariff_out_of_force_cannot_be_priced_either():
    formula = requestable([{"kind": "formula", "formula": {"es": "1 % del valor catastral"}}])
    assert "request" not in actions_on(formula, JANUARY)
    expired = requestable([{"kind": "fixed", "amount": "100", "effective_to": "2025-12-31"}])
    assert "request" not in actions_on(expired, JANUARY)  # never last year's tariff


def test_only_the_costs_paid_at_the_kiosk_must_be_known():
    record = requestable([{"kind": "fixed", "amount": "100", "payment_places": ["kiosk"]},
                          {**RANGE, "payment_places": ["office"]}])  # settled later at the office
    assert actions_on(record, JANUARY) == ["request", "print"]


def test_without_other_channels_the_page_still_says_why():
    record = requestable([RANGE], channels=[{"type": "kiosk", "kiosk": {"pay": False, "request": True, "print": True}}])
    assert where_on(record, JANUARY)[-1] == "En este kiosco no se puede solicitar: el costo depende de su caso."
