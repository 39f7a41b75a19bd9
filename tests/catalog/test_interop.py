"""ChileAtiende and CPSV-AP importers, the CPSV-AP exporter, and their round trip."""

from __future__ import annotations

import json

from kiosk import cli
from kiosk.catalog import interop
from kiosk.catalog.model import validate_catalog
from kiosk.catalog.sample import SAMPLE_PATH, build_sample

# Shaped like a ChileAtiende API ficha (fields re-typed from the public documentation; text invented).
FICHA = {
    "id": 1234, "codigo": "ZZ001", "servicio": "Instituto de Ejemplo", "fecha": "2025-10-01 10:00:00",
    "titulo": "Certificado de ejemplo", "objetivo": "<p>Obtener un <strong>certificado</strong> de ejemplo. Sirve para "
    "trámites.</p>", "beneficiarios": "<p>Personas mayores de 18 a&ntilde;os.</p>",
    "doc_requeridos": "<ul><li>Cédula de identidad vigente.</li><li>Comprobante de domicilio.</li></ul>",
    "costo": "<p>Gratuito.</p>", "plazo": "<p>10 días hábiles, aproximadamente.</p>",
    "vigencia": "<p>1 año</p>", "marco_legal": "<p>Ley 12.345</p>",
    "guia_online": "<ol><li>Ingrese al sitio.</li><li>Descargue el certificado.</li></ol>",
    "guia_online_url": "https://www.example.cl/certificado",
    "guia_oficina": "<p>Acuda a una sucursal.</p>", "temas": {"tema": ["Vivienda"]},
    "tags": {"tag": ["certificado", "vivienda"]}, "updated_data_at": "2025-10-02 11:00:00",
}


def test_single_ficha_is_cleaned_and_parsed():
    document = interop.import_chileatiende({"ficha": FICHA})
    validate_catalog(document)
    record = document["procedures"][0]
    assert record["id"] == "cl:1234" and record["name"] == {"es": "Certificado de ejemplo"}
    assert record["description"]["es"] == "Obtener un certificado de ejemplo. Sirve para trámites."
    assert record["audience"][0]["text"]["es"] == "Personas mayores de 18 años."
    assert [r["name"]["es"] for r in record["requirements"]] == ["Cédula de identidad vigente.",
                                                                  "Comprobante de domicilio."]
    assert record["costs"][0]["kind"] == "free"
    assert record["deadlines"][0] == {"kind": "resolve", "duration": "P10D", "day_kind": "business",
                                      "text": {"es": "10 días hábiles, aproximadamente."}}
    assert {c["type"] for c in record["channels"]} == {"online", "in_person"}
    assert record["categories"] == ["vivienda"] and record["meta"]["reviewed_at"] == "2025-10-02"


def test_list_envelope_and_cost_parsing():
    fichas = [dict(FICHA, id=n, costo=cost) for n, cost in
              enumerate(["<p>$1.500</p>", "<p>$3.200 más $500 por copia</p>", "Variable según monto", ""], 1)]
    document = interop.import_chileatiende({"fichas": {"items": fichas, "total": 4}})
    validate_catalog(document)
    costs = [record["costs"][0] for record in document["procedures"]]
    assert costs[0]["kind"] == "fixed" and costs[0]["amount"] == "1500" and costs[0]["currency"] == "CLP"
    assert [cost["kind"] for cost in costs[1:]] == ["variable", "variable", "variable"]
    assert costs[1]["text"]["es"] == "$3.200 más $500 por copia"


def test_cpsv_export_imports_back_to_the_same_records():
    document = build_sample()
    exported = interop.export_cpsv(document)
    assert exported["@context"]["cpsv"] == "http://purl.org/vocab/cpsv#"
    service = next(node for node in exported["@graph"] if node["@type"] == "cpsv:PublicService")
    assert service["dct:title"] == [{"@language": "es", "@value": document["procedures"][0]["name"]["es"]}]
    assert service["cv:hasCost"][0]["@type"] == "cv:Cost"
    again = interop.import_cpsv(json.loads(json.dumps(exported)))
    assert again == document


def test_plain_cpsv_without_extensions_imports_as_valid_records():
    node = {
        "@type": "cpsv:PublicService", "dct:identifier": "svc-1",
        "dct:title": [{"@language": "es", "@value": "Licencia de pesca"}],
        "dct:description": [{"@language": "es", "@value": "Permiso para pescar en el lago."}],
        "cv:hasCompetentAuthority": {"@type": "cv:PublicOrganisation", "dct:identifier": "org-1",
                                     "skos:prefLabel": [{"@language": "es", "@value": "Ayuntamiento"}]},
        "cv:hasCost": [{"@type": "cv:Cost", "dct:identifier": "c1", "cv:hasValue": 12.5,
                        "cv:currency": {"@id": interop.CURRENCY_URI + "EUR"},
                        "dct:description": [{"@language": "es", "@value": "Tasa"}], "kiosk:kind": "x"}],
        "cv:thematicArea": ["http://example.org/themes/Ocio"], "adms:status": "Completed",
    }
    document = interop.import_cpsv({"@graph": [node]})
    record = document["procedures"][0]
    assert record["costs"][0]["amount"] == "12.50" and record["costs"][0]["currency"] == "EUR"
    assert record["costs"][0]["kind"] == "fixed"
    validate_catalog(document)
    assert record["status"] == "active" and record["categories"] == ["ocio"]


def test_cli_round_trip(tmp_path, capsys):
    ld, back = tmp_path / "catalog.jsonld", tmp_path / "back.json"
    assert cli.main(["catalog", "export", "--to", "cpsv-ap", "--catalog", str(SAMPLE_PATH), "--out", str(ld)]) == 0
    assert cli.main(["catalog", "import", "--from", "cpsv-ap", str(ld), "--out", str(back)]) == 0
    assert json.loads(back.read_text()) == json.loads(SAMPLE_PATH.read_text())
    fichas = tmp_path / "fichas.json"
    fichas.write_text(json.dumps({"fichas": {"items": [FICHA]}}), encoding="utf-8")
    assert cli.main(["catalog", "import", "--from", "chileatiende", str(fichas), "--out", str(back)]) == 0
    assert "imported 1 procedures" in capsys.readouterr().out


def test_cli_import_of_garbage_fails_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"nada": 1}', encoding="utf-8")
    assert cli.main(["catalog", "import", "--from", "chileatiende", str(bad), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kiosk: ") and "cannot import as chileatiende" in err and len(err.splitlines()) == 1
