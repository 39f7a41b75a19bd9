"""The procedure page (kiosk.flows.procedure_page.PageWriter), beyond tests/test_procedure_page.py:
the answers a page gives when the catalog leaves something out, the less common cost and time
statements, and what the citizen is told after a request ("how to obtain").
The clock is passed in, so every date below is the test's own."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kiosk.core.i18n import Translator
from kiosk.flows.procedure_page import PageWriter

WEDNESDAY = dt.datetime(2026, 1, 14, 10, 30)
MINIMAL = {  # the fields the catalog requires of every procedure, and nothing else
    "id": "min-1", "kind": "tramite", "name": {"es": "Alta de negocio"}, "summary": {"es": "Registre su negocio."},
    "authority": {"name": {"es": "Desarrollo Económico"}}, "categories": ["negocios"], "status": "active",
    "popularity": 3, "meta": {},
}


def writer(language: str = "es", when: dt.datetime = WEDNESDAY) -> PageWriter:
    return PageWriter(Translator(language), now=lambda: when)


def sections(record: dict[str, Any], language: str = "es", catalog: Any = None) -> dict[str, list[str]]:
    written = writer(language).sections(record, catalog or (lambda _id: None))
    return {section.key: list(section.lines) for section in written}


def office(**fields: Any) -> dict[str, Any]:
    return {"id": "of", "name": {"es": "Ventanilla única"}, "address": {"street": "Juárez", "number": "10"},
            "hours": [{"days": [1, 2, 3, 4, 5], "opens": "09:00", "closes": "14:00"}], **fields}


# -- every question has an answer ---------------------------------------------------------------------
def test_the_page_answers_every_question_in_order_in_the_citizen_s_language():
    spanish = writer("es").sections(MINIMAL, lambda _id: None)
    english = writer("en").sections(MINIMAL, lambda _id: None)
    assert [s.key for s in spanish] == ["what", "where", "bring", "order", "cost"]
    assert all(s.title.endswith("?") for s in spanish)
    assert [s.title for s in spanish] != [s.title for s in english]
    assert all(section.lines for section in spanish), "a question left with nothing under it"


def test_what_the_catalog_leaves_out_is_said_not_left_blank():
    page = sections(MINIMAL)
    assert page["what"] == ["Registre su negocio."]
    assert page["where"][0] == "Lo atiende: Desarrollo Económico."
    assert any("no se hace en una oficina" in line for line in page["where"])
    assert page["bring"] == ["No necesita llevar documentos."]
    assert page["order"] == ["No necesita hacer otro trámite antes."]
    assert page["cost"] == ["El catálogo no indica cuánto tarda.", "El catálogo no indica el costo."]
    assert [action.key for action in writer().actions(MINIMAL)] == ["print"]  # nothing to pay or request


def test_a_missing_time_is_said_like_a_missing_cost():
    assert sections(MINIMAL)["cost"][0] == "El catálogo no indica cuánto tarda."
    assert sections(MINIMAL, language="en")["cost"][0] == "The catalog does not state how long it takes."


def test_a_previous_procedure_missing_from_this_catalog_is_named_from_the_requirement():
    record = {**MINIMAL, "requirements": [{"name": {"es": "Licencia de uso de suelo"}, "original": True,
                                           "procedure_id": "gone-7"}]}
    assert sections(record)["order"][0] == "Antes: Licencia de uso de suelo."
    found = sections(record, catalog={"gone-7": {"name": {"es": "Uso de suelo comercial"}}}.get)
    assert found["order"][0] == "Antes: Uso de suelo comercial."


# -- where and when ----------------------------------------------------------------------------------
def test_a_closure_without_a_reason_and_an_office_that_does_not_open_today():
    closed = {**MINIMAL, "offices": [office(closures=[{"date": "2026-01-14"}])]}
    assert sections(closed)["where"][-1] == "Hoy está cerrado."
    weekend = {**MINIMAL, "offices": [office(hours=[{"days": [6], "opens": "09:00", "closes": "13:00"}])]}
    assert sections(weekend)["where"][-1] == "Hoy no abre."


def test_split_hours_are_all_said_and_open_now_follows_the_clock():
    split = office(hours=[{"days": [3], "opens": "08:00", "closes": "10:00"},
                          {"days": [3], "opens": "16:00", "closes": "19:00"}])
    record = {**MINIMAL, "offices": [split]}
    line = sections(record)["where"][-1]  # 10:30, between the two spans
    assert "08:00" in line and "19:00" in line and "cerrado en este momento" in line
    afternoon = writer(when=WEDNESDAY.replace(hour=17)).where(record)[-1]
    assert "abierto ahora" in afternoon


def test_at_most_two_offices_are_listed():
    offices = [office(id=f"of{n}", name={"es": f"Oficina {n}"}) for n in range(1, 4)]
    where = sections({**MINIMAL, "offices": offices})["where"]
    assert "Oficina 1" in where and "Oficina 2" in where and "Oficina 3" not in where


# -- time and cost -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("cost", "expected"), [
    ({"kind": "free"}, "gratuito"),
    ({"kind": "formula", "formula": {"es": "2 % del valor catastral"}}, "2 % del valor catastral"),
    ({"kind": "variable", "text": {"es": "según la superficie"}}, "según la superficie"),
    ({"kind": "variable"}, "variable"),
    ({"kind": "fixed", "amount": "75", "currency": "USD", "concept": {"es": "Derecho de trámite"}}, "$75.00 USD"),
])
def test_each_kind_of_cost_is_stated_as_the_catalog_states_it(cost, expected):
    time, line = sections({**MINIMAL, "costs": [cost]})["cost"]
    assert time == "El catálogo no indica cuánto tarda."
    assert line.startswith("Costo:") and expected in line
    if "concept" in cost:
        assert "Derecho de trámite" in line


def test_a_deadline_the_kiosk_cannot_read_is_shown_as_written():
    record = {**MINIMAL, "deadlines": [{"kind": "resolve", "duration": "tres semanas"},
                                       {"kind": "delivery", "text": {"es": "El mismo día"}},
                                       {"kind": "prevent", "duration": "PT2H30M"}]}
    times = sections(record)["cost"]
    assert "tres semanas" in times[0]
    assert times[1] == "El mismo día"
    assert "2 horas y 30 minutos" in times[2]


def test_a_negative_silence_rule_is_said_plainly():
    record = {**MINIMAL, "deadlines": [{"kind": "resolve", "duration": "P10D", "day_kind": "business",
                                        "silence_rule": "negativa_ficta"}]}
    line = sections(record)["cost"][0]
    assert "10 días hábiles" in line and "negativa" in line


# -- after a request ------------------------------------------------------------------------------
REQUEST = {**MINIMAL, "outputs": [{"name": {"es": "Licencia de funcionamiento"}, "validity": "P1Y"}],
           "deadlines": [{"kind": "resolve", "duration": "P15D", "day_kind": "business"},
                         {"kind": "delivery", "duration": "P3D", "day_kind": "business"}],
           "offices": [office()], "channels": [{"type": "online", "url": "https://tramites.example/alta"}]}


def test_after_a_request_the_citizen_is_told_what_when_and_where():
    lines = writer().how_to_obtain(REQUEST, issued=False)
    assert "Licencia de funcionamiento" in lines[0] and "1 año" in lines[0]
    assert any("3 días hábiles" in line for line in lines)  # the delivery time, not the 15-day resolution
    assert not any("15 días" in line for line in lines)
    assert any("Ventanilla única" in line for line in lines) and any("Juárez 10" in line for line in lines)
    assert lines[-1].endswith("https://tramites.example/alta")


def test_an_issued_document_is_downloaded_not_waited_for():
    lines = writer().how_to_obtain(REQUEST, issued=True)
    assert any("QR" in line for line in lines) and not any("días" in line for line in lines)


def test_a_request_with_no_outputs_or_offices_still_says_what_it_can():
    assert writer().how_to_obtain(MINIMAL) == []
    only_url = {**MINIMAL, "channels": [{"type": "online", "url": "https://x.example"}]}
    [line] = writer().how_to_obtain(only_url)
    assert line.endswith("https://x.example")
