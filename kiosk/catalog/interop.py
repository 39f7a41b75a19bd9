"""Importers and exporters: ChileAtiende fichas and CPSV-AP 3.2 JSON-LD.

ChileAtiende fichas have HTML text fields and free-text costs and deadlines; we clean the HTML,
split requirement lists into items, turn "Gratuito"/"Sin costo" into a free cost and a lone amount
("$1.500") into a fixed CLP amount, and keep anything else as a variable cost with its text.

CPSV-AP export maps each field to its CPSV-AP 3.2 property (see docs/catalog.md); what CPSV-AP has
no property for (popularity, kiosk actions, discount schedules, office floors...) travels in a
`kiosk:extra` JSON literal on the node it belongs to, so an export imports back to the same
records. Plain CPSV-AP from other publishers (no `kiosk:extra`) imports through the standard
properties alone, with defaults for the kiosk-only fields.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from html.parser import HTMLParser
from typing import Any

from kiosk.catalog.model import CATALOG_FORMAT, STATUSES, with_content_hash

# ---- ChileAtiende -----------------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    _BREAKS = frozenset({"p", "br", "li", "div", "tr", "h1", "h2", "h3", "h4", "ul", "ol"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_lines(value: Any) -> list[str]:
    """HTML (or plain text) to clean non-empty lines, entities decoded, bullets removed."""
    if not value or not isinstance(value, str):
        return []
    parser = _TextExtractor()
    parser.feed(value)
    parser.close()
    text = html.unescape("".join(parser.parts)).replace("\xa0", " ")
    lines = (re.sub(r"\s+", " ", line).strip(" -•*·\t") for line in text.split("\n"))
    return [line for line in lines if line]


def html_text(value: Any) -> str:
    return " ".join(html_lines(value))


_FREE = re.compile(r"^(gratuito|gratis|sin costo|no tiene costo|ninguno|no aplica)\b", re.IGNORECASE)
_AMOUNT = re.compile(r"\$\s?(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d{1,2}))?")
_VAGUE = re.compile(r"\b(más|mas|por|según|segun|desde|hasta|variable|depende|aproximad\w*|entre|cada)\b",
                    re.IGNORECASE)


def parse_chile_cost(text: str) -> dict[str, Any]:
    """'Gratuito' -> free; '$1.500' -> fixed 1500 CLP; anything vaguer -> variable with its text."""
    if not text:
        return {"id": "costo", "kind": "variable", "text": {"es": "Consultar costo en la institución"}}
    if _FREE.match(text):
        return {"id": "costo", "kind": "free", "text": {"es": text}}
    amounts = _AMOUNT.findall(text)
    if len(amounts) == 1 and not _VAGUE.search(text):
        whole, cents = amounts[0]
        amount = whole.replace(".", "") + (f".{cents}" if cents else "")
        return {"id": "costo", "kind": "fixed", "amount": amount, "currency": "CLP", "text": {"es": text}}
    return {"id": "costo", "kind": "variable", "text": {"es": text}}


_DAYS = re.compile(r"(\d+)\s*d[ií]as?\s*(h[aá]biles)?", re.IGNORECASE)


def _slug(text: str) -> str:
    from kiosk.catalog.search import fold

    return re.sub(r"\s+", "_", fold(text))[:60] or "sin_tema"


def _listish(value: Any, key: str) -> list[str]:
    # ChileAtiende wraps lists as {"tema": [...]} or {"tema": "x"}; accept plain lists and strings too.
    if isinstance(value, dict):
        value = value.get(key, [])
    if isinstance(value, str):
        value = [value]
    return [str(item) for item in value or [] if str(item).strip()]


def chileatiende_fichas(data: Any) -> list[dict[str, Any]]:
    """Accept a single ficha, {"ficha": {...}}, {"fichas": {"items": [...]}} or a plain list."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if "ficha" in data:
            return [data["ficha"]]
        if "fichas" in data:
            feed = data["fichas"]
            return list(feed.get("items", []) if isinstance(feed, dict) else feed)
        if "titulo" in data:
            return [data]
    raise ValueError("not a ChileAtiende ficha, {'ficha': ...} or {'fichas': {'items': [...]}} document")


def ficha_to_procedure(ficha: dict[str, Any]) -> dict[str, Any]:
    ficha_id = str(ficha.get("id") or ficha.get("codigo") or "").strip()
    if not ficha_id or not ficha.get("titulo"):
        raise ValueError("a ficha needs 'id' and 'titulo'")
    objective = html_text(ficha.get("objetivo")) or html_text(ficha.get("titulo"))
    service = ficha.get("servicio")
    service_name = (service.get("nombre") if isinstance(service, dict) else service) or "Institución"
    service_id = (service.get("id") if isinstance(service, dict) else None) or _slug(str(service_name))
    updated = str(ficha.get("updated_data_at") or ficha.get("fecha") or "")[:10]
    record: dict[str, Any] = {
        "id": f"cl:{ficha_id}",
        "external_ids": {"chileatiende_id": ficha_id, **({"codigo": str(ficha["codigo"])} if ficha.get("codigo")
                                                         else {}),
                         **({"source_url": ficha["permalink"]} if ficha.get("permalink") else {})},
        "kind": "tramite", "name": {"es": html_text(ficha["titulo"])},
        "summary": {"es": _first_sentence(objective)}, "description": {"es": objective},
        "authority": {"id": str(service_id), "name": {"es": html_text(str(service_name))}},
        "requirements": [{"id": f"req-{n}", "name": {"es": line}}
                         for n, line in enumerate(html_lines(ficha.get("doc_requeridos")), start=1)],
        "costs": [parse_chile_cost(html_text(ficha.get("costo")))],
        "channels": _chile_channels(ficha),
        "categories": [_slug(t) for t in _listish(ficha.get("temas"), "tema")] or ["sin_tema"],
        "keywords": {"es": _listish(ficha.get("tags"), "tag")},
        "popularity": 0, "status": "active",
        "meta": {"rev": 1, "reviewed_at": updated if _is_date(updated) else dt.date.today().isoformat()},
    }
    if html_text(ficha.get("beneficiarios")):
        record["audience"] = [{"who": "cualquiera", "text": {"es": html_text(ficha["beneficiarios"])}}]
    deadline = _chile_deadline(html_text(ficha.get("plazo")))
    if deadline:
        record["deadlines"] = [deadline]
    if html_text(ficha.get("vigencia")):
        record["outputs"] = [{"id": "resultado", "name": {"es": "Resultado del trámite"}, "type": "other",
                              "validity_text": {"es": html_text(ficha["vigencia"])}}]
    if html_text(ficha.get("marco_legal")):
        record["legal_basis"] = [{"id": "marco-legal", "order": "federal",
                                  "name": html_text(ficha["marco_legal"])[:400]}]
    return record


def _first_sentence(text: str) -> str:
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return sentence if len(sentence) <= 300 else sentence[:297] + "..."


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _chile_deadline(text: str) -> dict[str, Any] | None:
    match = _DAYS.search(text or "")
    if not match:
        return None
    return {"kind": "resolve", "duration": f"P{int(match.group(1))}D",
            "day_kind": "business" if match.group(2) else "calendar", "text": {"es": text}}


def _chile_channels(ficha: dict[str, Any]) -> list[dict[str, Any]]:
    channels = []
    for key, kind in (("guia_online", "online"), ("guia_oficina", "in_person"), ("guia_telefonico", "phone"),
                      ("guia_correo", "mail")):
        steps = html_lines(ficha.get(key))
        if not steps:
            continue
        channel: dict[str, Any] = {"id": kind.replace("_", "-"), "type": kind,
                                   "steps": [{"es": step} for step in steps[:50]]}
        url = ficha.get("guia_online_url")
        if kind == "online" and isinstance(url, str) and url.startswith("http"):
            channel["url"] = url
        channels.append(channel)
    return channels


def import_chileatiende(data: Any) -> dict[str, Any]:
    procedures = [with_content_hash(ficha_to_procedure(ficha)) for ficha in chileatiende_fichas(data)]
    topics = sorted({cat for record in procedures for cat in record["categories"]})
    names = {_slug(t): t for ficha in chileatiende_fichas(data) for t in _listish(ficha.get("temas"), "tema")}
    return {
        "format": CATALOG_FORMAT, "revision": 1, "generated_at": _now(),
        "municipality": {"id": "cl-chileatiende", "name": "ChileAtiende", "country": "CL", "currency": "CLP",
                         "languages": ["es"]},
        "categories": [{"id": slug, "name": {"es": names.get(slug, slug.replace("_", " ").capitalize())},
                        "order": n} for n, slug in enumerate(topics, start=1)],
        "procedures": procedures,
    }


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# ---- CPSV-AP 3.2 JSON-LD ----------------------------------------------------------------------

CONTEXT = {
    "cpsv": "http://purl.org/vocab/cpsv#", "cv": "http://data.europa.eu/m8g/", "dct": "http://purl.org/dc/terms/",
    "dcat": "http://www.w3.org/ns/dcat#", "skos": "http://www.w3.org/2004/02/skos/core#",
    "adms": "http://www.w3.org/ns/adms#", "eli": "http://data.europa.eu/eli/ontology#",
    "locn": "http://www.w3.org/ns/locn#", "schema": "https://schema.org/", "xsd": "http://www.w3.org/2001/XMLSchema#",
    "kiosk": "https://municipal-kiosk.example/ns#",
    "kiosk:extra": {"@type": "@json"},
}
CURRENCY_URI = "http://publications.europa.eu/resource/authority/currency/"

# field, property, how: "plain" | "plainlist" | "lang" | "langlist" | "money" | "currency" | (class, mapping, many)
ORG = [("id", "dct:identifier", "plain"), ("name", "skos:prefLabel", "lang")]
REQUIREMENT = [("id", "dct:identifier", "plain"), ("name", "dct:title", "lang"),
               ("description", "dct:description", "lang")]
EVIDENCE = [("id", "dct:identifier", "plain"), ("name", "dct:title", "lang"), ("url", "dcat:landingPage", "plain")]
COST = [("id", "dct:identifier", "plain"), ("amount", "cv:hasValue", "money"), ("currency", "cv:currency", "currency"),
        ("text", "dct:description", "lang")]
OUTPUT = [("id", "dct:identifier", "plain"), ("name", "dct:title", "lang"), ("type", "dct:type", "plain")]
CHANNEL = [("id", "dct:identifier", "plain"), ("type", "dct:type", "plain"),
           ("processing_time", "cv:processingTime", "plain"), ("url", "schema:serviceUrl", "plain")]
OFFICE = [("id", "dct:identifier", "plain"), ("name", "dct:title", "lang"), ("phone", "cv:telephone", "plain"),
          ("email", "cv:email", "plain")]
LEGAL = [("id", "dct:identifier", "plain"), ("name", "dct:title", "plain"), ("url", "eli:is_realized_by", "plain")]
SERVICE = [
    ("id", "dct:identifier", "plain"), ("name", "dct:title", "lang"), ("description", "dct:description", "lang"),
    ("kind", "dct:type", "plain"), ("status", "adms:status", "plain"), ("categories", "cv:thematicArea", "plainlist"),
    ("keywords", "dcat:keyword", "langlist"), ("life_events", "cv:isGroupedBy", "plainlist"),
    ("authority", "cv:hasCompetentAuthority", ("cv:PublicOrganisation", ORG, False)),
    ("requirements", "cv:holdsRequirement", ("cv:Requirement", REQUIREMENT, True)),
    ("forms", "cv:hasInputType", ("cv:EvidenceType", EVIDENCE, True)),
    ("costs", "cv:hasCost", ("cv:Cost", COST, True)),
    ("outputs", "cpsv:produces", ("cv:Output", OUTPUT, True)),
    ("channels", "cv:hasChannel", ("cv:Channel", CHANNEL, True)),
    ("offices", "cv:contactPoint", ("cv:ContactPoint", OFFICE, True)),
    ("legal_basis", "cv:hasLegalResource", ("eli:LegalResource", LEGAL, True)),
]
CATEGORY = [("id", "dct:identifier", "plain"), ("name", "skos:prefLabel", "lang")]


def _to_value(how: Any, value: Any) -> Any:
    if how == "plain" or how == "plainlist":
        return value
    if how == "lang":
        return [{"@language": lang, "@value": text} for lang, text in value.items()]
    if how == "langlist":
        return [{"@language": lang, "@value": word} for lang, words in value.items() for word in words]
    if how == "money":
        return {"@value": value, "@type": "xsd:decimal"}
    if how == "currency":
        return {"@id": CURRENCY_URI + value}
    node_type, mapping, many = how
    return [to_node(node_type, mapping, item) for item in value] if many else to_node(node_type, mapping, value)


def _from_value(how: Any, value: Any) -> Any:
    if how == "plain":
        return value[0] if isinstance(value, list) and len(value) == 1 else value
    if how == "plainlist":
        return value if isinstance(value, list) else [value]
    if how in ("lang", "langlist"):
        items = value if isinstance(value, list) else [value]
        out: dict[str, Any] = {}
        for item in items:
            lang, text = (item.get("@language", "es"), item["@value"]) if isinstance(item, dict) else ("es", item)
            if how == "lang":
                out.setdefault(lang, text)
            else:
                out.setdefault(lang, []).append(text)
        return out
    if how == "money":
        raw: Any = value.get("@value") if isinstance(value, dict) else value
        return raw if isinstance(raw, str) else f"{float(raw):.2f}"
    if how == "currency":
        raw = value.get("@id", "") if isinstance(value, dict) else str(value)
        return raw.rsplit("/", 1)[-1]
    _node_type, mapping, many = how
    items = value if isinstance(value, list) else [value]
    nodes = [from_node(mapping, item) for item in items]
    return nodes if many else nodes[0]


def to_node(node_type: str, mapping: list, obj: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {"@type": node_type}
    mapped = set()
    for field, prop, how in mapping:
        if field in obj:
            node[prop] = _to_value(how, obj[field])
            mapped.add(field)
    extra = {key: value for key, value in obj.items() if key not in mapped}
    if extra:
        node["kiosk:extra"] = extra
    return node


def from_node(mapping: list, node: dict[str, Any]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for field, prop, how in mapping:
        if prop in node:
            obj[field] = _from_value(how, node[prop])
    obj.update(node.get("kiosk:extra") or {})
    return obj


def export_cpsv(document: dict[str, Any]) -> dict[str, Any]:
    """A catalog document as CPSV-AP 3.2 JSON-LD (one graph: catalog, concepts, services)."""
    header = {key: value for key, value in document.items() if key not in ("procedures", "categories")}
    graph: list[dict[str, Any]] = [{"@id": "urn:kiosk:catalog", "@type": "dcat:Catalog", "kiosk:extra": header}]
    for category in document["categories"]:
        node = to_node("skos:Concept", CATEGORY, category)
        node["@id"] = f"urn:kiosk:category:{category['id']}"
        graph.append(node)
    for record in document["procedures"]:
        node = to_node("cpsv:PublicService", SERVICE, record)
        node["@id"] = f"urn:kiosk:procedure:{record['id']}"
        graph.append(node)
    return {"@context": CONTEXT, "@graph": graph}


def import_cpsv(data: dict[str, Any]) -> dict[str, Any]:
    graph = data.get("@graph", [data]) if isinstance(data, dict) else data
    if not isinstance(graph, list):
        raise ValueError("expected a JSON-LD document with @graph")
    header: dict[str, Any] = {}
    categories: list[dict[str, Any]] = []
    procedures: list[dict[str, Any]] = []
    for node in graph:
        types = node.get("@type", [])
        types = types if isinstance(types, list) else [types]
        if "dcat:Catalog" in types:
            header = dict(node.get("kiosk:extra") or {})
        elif "skos:Concept" in types:
            categories.append(from_node(CATEGORY, node))
        elif "cpsv:PublicService" in types or "PublicService" in types:
            procedures.append(_complete(from_node(SERVICE, node)))
    if not categories:
        seen = sorted({cat for record in procedures for cat in record["categories"]})
        categories = [{"id": cat, "name": {"es": cat}, "order": n} for n, cat in enumerate(seen, start=1)]
    header = {"format": CATALOG_FORMAT, "revision": 1, "generated_at": _now(),
              "municipality": {"id": "cpsv-import", "name": "Importado de CPSV-AP", "country": "MX",
                               "currency": "MXN", "languages": ["es"]}, **header}
    return {**header, "categories": categories, "procedures": procedures}


def _complete(record: dict[str, Any]) -> dict[str, Any]:
    """Fill the kiosk-only required fields when the source is plain CPSV-AP."""
    if "meta" in record:
        return record
    record.setdefault("kind", "tramite")
    if record.get("status") not in STATUSES:  # e.g. CPSV-AP "Completed" or a status URI
        record["status"] = "active"
    record.setdefault("summary", record.get("description") or record.get("name"))
    record.setdefault("categories", ["general"])
    record["categories"] = [_slug(cat.rsplit("/", 1)[-1]) for cat in record["categories"]]
    record.setdefault("authority", {"id": "desconocida", "name": {"es": "Autoridad no indicada"}})
    record.setdefault("popularity", 0)
    for cost in record.get("costs", []):
        if "kind" not in cost:  # CPSV-AP has no cost kind: a value with a currency is a fixed amount
            if cost.get("amount") and cost.get("currency"):
                cost["kind"] = "fixed"
            else:
                cost["kind"] = "variable"
                cost.setdefault("text", {"es": "Consultar el costo en la oficina"})
    record["meta"] = {"rev": 1, "reviewed_at": dt.date.today().isoformat()}
    return with_content_hash(record)
