"""The procedure ("trámite") record and the catalog document, enforced by validation.

Records stay plain JSON-shaped dicts (what the API sends, what SQLite stores, what screens read);
this module is the single definition of what a valid record is. `docs/catalog.md` documents every
field and its CPSV-AP 3.2 / schema.org mapping.

Validation is built from small checker closures. The fast path does only type tests so that a
10,000-record catalog validates in a fraction of a second; a failure raises `Invalid`, whose path
("procedures[12].costs[0].amount") is assembled while the exception unwinds, so no path strings
are built for valid data. Unknown keys are ignored so an older kiosk accepts a newer server's
additions (forward compatibility); required fields and the types of known fields are strict.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from kiosk.core.errors import CatalogError

CATALOG_FORMAT = "kiosk-catalog/1"

Checker = Callable[[Any], None]

KINDS = ("tramite", "servicio")
STATUSES = ("active", "suspended", "withdrawn")
AUDIENCES = ("persona_fisica", "persona_moral", "cualquiera")
COST_KINDS = ("fixed", "range", "formula", "free", "variable")
COST_PER = ("tramite", "copia", "m2", "m", "unidad", "anio", "mes", "hoja", "evento")
COST_UNITS = ("UMA", "UTM", "UF")
PAYMENT_PLACES = ("kiosk", "office", "bank", "online", "store")
PAYMENT_MOMENTS = ("before", "after_review", "on_delivery")
DEADLINE_KINDS = ("resolve", "prevent", "answer_prevention", "delivery")
DAY_KINDS = ("business", "calendar")
SILENCE_RULES = ("afirmativa_ficta", "negativa_ficta", "none")
OUTPUT_TYPES = ("certificate", "license", "permit", "receipt", "document", "registration", "card", "other")
CHANNEL_TYPES = ("in_person", "online", "phone", "kiosk", "mail", "app")
ID_METHODS = ("ine_qr", "curp", "chip_pin", "account_number", "none")
ACCOUNT_KINDS = ("clave_catastral", "numero_contrato_agua", "placa", "folio_infraccion", "folio_solicitud")
LEGAL_ORDERS = ("federal", "state", "municipal")
# ISO 4217 codes a Latin-American municipality plausibly uses; extend as deployments need.
CURRENCIES = frozenset(
    ["MXN", "CLP", "CLF", "COP", "UYU", "UYI", "ARS", "PEN", "BOB", "BRL", "PYG", "GTQ", "HNL", "NIO",
     "CRC", "PAB", "DOP", "CUP", "VES", "USD", "EUR"]
)

ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9:._/-]{0,119}"
SLUG_PATTERN = r"[a-z0-9][a-z0-9_-]{0,63}"
# re.ASCII: without it \d also matches Arabic-Indic and full-width digits, which pass here and then
# print as nonsense on a receipt.
_LANG = re.compile(r"[a-z]{2,3}(-[A-Z]{2})?")
_DECIMAL = re.compile(r"\d{1,12}(\.\d{1,4})?", re.ASCII)
_DURATION = re.compile(r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?", re.ASCII)
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d|24:00", re.ASCII)
# Text a kiosk cannot store or show: lone surrogates (no UTF-8 encoding exists, so the database
# write fails) and control characters other than tab and line breaks (ESC starts printer commands).
_UNSTORABLE = re.compile("[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# How json.dumps(ensure_ascii=False) writes those control characters; a hit may also be a literal
# backslash in the text, which the walk that follows tells apart.
_CONTROL_ESCAPES = ("\\u00", "\\b", "\\f", "\x7f")


class Invalid(CatalogError, ValueError):
    """A validation failure; `path` locates it inside the document, `code` is the reason code a
    sync records for it (`invalid_record`, `duplicate_id`, `unknown_category`)."""

    def __init__(self, problem: str, path: tuple[str | int, ...] = (), code: str = "invalid_record"):
        super().__init__(problem)
        self.problem = problem
        self.path = path
        self.code = code

    def at(self, key: str | int) -> Invalid:
        self.path = (key, *self.path)
        return self

    @property
    def where(self) -> str:
        text = ""
        for part in self.path:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
        return text

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}" if self.path else self.problem


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
             int: "an integer", float: "a number"}
    return names.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ---- leaf checkers ---------------------------------------------------------------------------

def string(max_len: int = 4000, pattern: str | None = None, label: str = "") -> Checker:
    regex = re.compile(pattern) if pattern else None

    def check(value: Any) -> None:
        if type(value) is not str:
            raise Invalid(f"expected a string, got {_kind(value)}")
        if not value.strip() or len(value) > max_len:
            raise Invalid(f"expected a non-empty string of at most {max_len} characters")
        if regex is not None and not regex.fullmatch(value):
            raise Invalid(f"expected {label or f'a value matching {pattern}'}, got {_short(value)}")
    return check


def enum(*choices: str) -> Checker:
    allowed = frozenset(choices)

    def check(value: Any) -> None:
        if type(value) is not str or value not in allowed:
            raise Invalid(f"expected one of {', '.join(choices)}, got {_short(value)}")
    return check


def integer(minimum: int = 0, maximum: int = 2**53) -> Checker:
    def check(value: Any) -> None:
        if type(value) is not int:
            raise Invalid(f"expected an integer, got {_kind(value)}")
        if not minimum <= value <= maximum:
            raise Invalid(f"expected an integer between {minimum} and {maximum}, got {value}")
    return check


def number(minimum: float, maximum: float) -> Checker:
    def check(value: Any) -> None:
        if type(value) not in (int, float):
            raise Invalid(f"expected a number, got {_kind(value)}")
        if not minimum <= value <= maximum:
            raise Invalid(f"expected a number between {minimum} and {maximum}, got {value}")
    return check


def boolean(value: Any) -> None:
    if type(value) is not bool:
        raise Invalid(f"expected true or false, got {_kind(value)}")


def decimal_string(value: Any) -> None:
    # Money travels as text ("204.50") because binary floats cannot hold cents exactly.
    if type(value) is not str or not _DECIMAL.fullmatch(value):
        raise Invalid(f"expected a decimal string such as '204.50', got {_short(value)}")


def currency(value: Any) -> None:
    if type(value) is not str or value not in CURRENCIES:
        raise Invalid(f"expected an ISO 4217 currency code such as 'MXN', got {_short(value)}")


def duration(value: Any) -> None:
    if type(value) is not str or not _DURATION.fullmatch(value):
        raise Invalid(f"expected an ISO 8601 duration such as 'P3D', got {_short(value)}")


def date(value: Any) -> None:
    try:
        if type(value) is not str or len(value) != 10:
            raise ValueError
        dt.date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"expected a date YYYY-MM-DD, got {_short(value)}") from None


def timestamp(value: Any) -> None:
    try:
        if type(value) is not str:
            raise ValueError
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError
    except ValueError:
        raise Invalid(f"expected an ISO 8601 date-time with a time zone, got {_short(value)}") from None


def clock(value: Any) -> None:
    if type(value) is not str or not _TIME.fullmatch(value):
        raise Invalid(f"expected a time HH:MM, got {_short(value)}")


def text(value: Any) -> None:
    """A citizen-facing text: one entry per language, e.g. {"es": "Pago del predial"}."""
    if type(value) is not dict or not value:
        raise Invalid(f"expected an object of texts per language such as {{'es': '...'}}, got {_kind(value)}")
    for lang, words in value.items():
        if type(lang) is not str or not _LANG.fullmatch(lang):
            raise Invalid(f"expected a language code such as 'es' or 'es-MX', got {_short(lang)}")
        if type(words) is not str or not words.strip():
            raise Invalid(f"expected a non-empty string, got {_kind(words)}").at(lang)


def list_of(item: Checker, max_items: int = 500, unique_id: bool = False) -> Checker:
    def check(value: Any) -> None:
        if type(value) is not list:
            raise Invalid(f"expected a list, got {_kind(value)}")
        if len(value) > max_items:
            raise Invalid(f"expected at most {max_items} items, got {len(value)}")
        for index, element in enumerate(value):
            try:
                item(element)
            except Invalid as error:
                raise error.at(index) from None
        if unique_id:
            ids = [element["id"] for element in value]
            if len(set(ids)) != len(ids):
                raise Invalid(f"duplicate id {_duplicates(ids)[0]!r} in list", code="duplicate_id")
    return check


def obj(required: Mapping[str, Checker], optional: Mapping[str, Checker] | None = None,
        rules: Callable[[dict], None] | None = None) -> Checker:
    required_items = tuple(required.items())
    optional_items = tuple((optional or {}).items())

    def check(value: Any) -> None:
        if type(value) is not dict:
            raise Invalid(f"expected an object, got {_kind(value)}")
        for key, checker in required_items:
            if key not in value:
                raise Invalid(f"missing required field '{key}'")
            try:
                checker(value[key])
            except Invalid as error:
                raise error.at(key) from None
        for key, checker in optional_items:
            field_value = value.get(key)
            if field_value is None:  # absent and null both mean "not given"
                continue
            try:
                checker(field_value)
            except Invalid as error:
                raise error.at(key) from None
        if rules is not None:
            rules(value)
    return check


def _duplicates(values: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    duplicates = []
    for value in values:
        if value in seen:
            duplicates.append(value)
        seen.add(value)
    return duplicates


# ---- the procedure record --------------------------------------------------------------------

ident = string(120, ID_PATTERN, "an identifier of letters, digits and : . _ / -")
slug = string(64, SLUG_PATTERN, "a lower-case slug such as 'predial'")
short_text = string(400)
url = string(2000, r"https?://\S+", "an http(s) URL")
ids = list_of(ident, 100)

authority = obj(
    {"id": ident, "name": text},
    {"unit": text, "phone": short_text, "email": short_text, "url": url},
)
audience = obj({"who": enum(*AUDIENCES)}, {"text": text})


def _requirement_rules(value: dict) -> None:
    # null means "not stated" (docs/catalog.md), which counts as none here
    stated = (value.get("original") or 0) + (value.get("copies") or 0) + (value.get("certified_copies") or 0)
    if stated == 0 and not value.get("optional") and value.get("kind") == "document":
        raise Invalid("a required document needs at least one original or copy")


requirement = obj(
    {"id": ident, "name": text},
    {"description": text, "kind": enum("document", "condition", "payment", "presence"),
     "original": integer(0, 20), "copies": integer(0, 50), "certified_copies": integer(0, 20),
     "must_be_signed": boolean, "issued_by": text, "procedure_id": ident, "optional": boolean},
    _requirement_rules,
)
form = obj({"id": ident, "name": text}, {"url": url, "fill_online_url": url, "published_in": short_text,
                                        "published_at": date})


def _discount_rules(value: dict) -> None:
    if value["from"] > value["to"]:
        raise Invalid("'from' is after 'to'")
    if not Decimal(0) < Decimal(value["percent"]) <= Decimal(100):
        raise Invalid("percent must be above 0 and at most 100").at("percent")


discount = obj({"from": date, "to": date, "percent": decimal_string}, {"text": text}, _discount_rules)


def _cost_rules(value: dict) -> None:
    kind = value["kind"]
    needs = {"fixed": ("amount", "currency"), "range": ("min", "max", "currency"),
             "formula": ("formula",), "variable": ("text",), "free": ()}[kind]
    for key in needs:
        if value.get(key) is None:
            raise Invalid(f"a '{kind}' cost needs '{key}'")
    if kind == "range" and Decimal(value["min"]) > Decimal(value["max"]):
        raise Invalid("'min' is greater than 'max'")
    if kind == "free" and value.get("amount") not in (None, "0", "0.00"):
        raise Invalid("a 'free' cost cannot have an amount").at("amount")
    if value.get("effective_from") and value.get("effective_to") and value["effective_from"] > value["effective_to"]:
        raise Invalid("'effective_from' is after 'effective_to'")


cost = obj(
    {"id": ident, "kind": enum(*COST_KINDS)},
    {"amount": decimal_string, "min": decimal_string, "max": decimal_string, "currency": currency,
     "unit": enum(*COST_UNITS), "per": enum(*COST_PER), "formula": text, "text": text, "concept": text,
     "channel_ids": ids, "payment_places": list_of(enum(*PAYMENT_PLACES), 10),
     "payment_moment": enum(*PAYMENT_MOMENTS), "effective_from": date, "effective_to": date,
     "discounts": list_of(discount, 24), "legal_basis_ids": ids},
    _cost_rules,
)
deadline = obj(
    {"kind": enum(*DEADLINE_KINDS), "duration": duration, "day_kind": enum(*DAY_KINDS)},
    {"silence_rule": enum(*SILENCE_RULES), "text": text},
)
output = obj(
    {"id": ident, "name": text, "type": enum(*OUTPUT_TYPES)},
    {"validity": duration, "validity_text": text},
)
kiosk_channel_actions = obj(  # not "kiosk_actions": that name is the function below
    {"pay": boolean, "request": boolean, "print": boolean},
    {"account": enum(*ACCOUNT_KINDS), "id_methods": list_of(enum(*ID_METHODS), 10)},
)
channel = obj(
    {"id": ident, "type": enum(*CHANNEL_TYPES)},
    {"url": url, "phone": short_text, "office_ids": ids, "steps": list_of(text, 50),
     "processing_time": duration, "appointment_url": url, "languages": list_of(string(8), 10),
     "kiosk": kiosk_channel_actions},
)
address = obj(
    {"street": short_text, "locality": short_text, "municipality": short_text, "state": short_text,
     "country": string(2, r"[A-Z]{2}", "an ISO 3166 country code such as 'MX'")},
    {"number": short_text, "postal_code": string(12), "building": short_text, "floor": short_text,
     "window": short_text, "references": text},
)
geo = obj({"lat": number(-90, 90), "lng": number(-180, 180)})


def _hours_rules(value: dict) -> None:
    if value["opens"] >= value["closes"]:
        raise Invalid("'opens' must be before 'closes'")


hours = obj({"days": list_of(integer(1, 7), 7), "opens": clock, "closes": clock}, None, _hours_rules)
closure = obj({"date": date}, {"to": date, "reason": text})
office = obj(
    {"id": ident, "name": text, "address": address, "hours": list_of(hours, 14)},
    {"geo": geo, "phone": short_text, "email": short_text, "closures": list_of(closure, 200)},
)
legal = obj(
    {"id": ident, "order": enum(*LEGAL_ORDERS), "name": short_text},
    {"type": short_text, "article": short_text, "fraction": short_text, "paragraph": short_text, "url": url},
)
meta = obj(
    {"rev": integer(1), "reviewed_at": date},
    {"source_updated_at": timestamp, "published_at": timestamp,
     "content_hash": string(80, r"sha256:[0-9a-f]{64}", "'sha256:' and 64 hex digits")},
)


def _procedure_rules(value: dict) -> None:
    channel_ids = {item["id"] for item in value.get("channels") or ()}
    office_ids = {item["id"] for item in value.get("offices") or ()}
    legal_ids = {item["id"] for item in value.get("legal_basis") or ()}
    for index, item in enumerate(value.get("channels") or ()):
        for office_id in item.get("office_ids") or ():
            if office_id not in office_ids:
                raise Invalid(f"office_ids names unknown office {office_id!r}").at(index).at("channels")
    for index, item in enumerate(value.get("costs") or ()):
        for channel_id in item.get("channel_ids") or ():
            if channel_id not in channel_ids:
                raise Invalid(f"channel_ids names unknown channel {channel_id!r}").at(index).at("costs")
        for legal_id in item.get("legal_basis_ids") or ():
            if legal_id not in legal_ids:
                raise Invalid(f"legal_basis_ids names unknown legal basis {legal_id!r}").at(index).at("costs")


procedure = obj(
    {
        "id": ident, "kind": enum(*KINDS), "name": text, "summary": text,
        "authority": authority, "categories": list_of(slug, 20), "status": enum(*STATUSES),
        "popularity": integer(0, 1000), "meta": meta,
    },
    {
        "external_ids": obj({}), "citizen_name": text, "description": text,
        "audience": list_of(audience, 10), "requirements": list_of(requirement, 100, unique_id=True),
        "forms": list_of(form, 50, unique_id=True), "costs": list_of(cost, 50, unique_id=True),
        "deadlines": list_of(deadline, 10), "outputs": list_of(output, 20, unique_id=True),
        "channels": list_of(channel, 20, unique_id=True), "offices": list_of(office, 50, unique_id=True),
        "legal_basis": list_of(legal, 50, unique_id=True), "keywords": obj({}),
        "life_events": list_of(slug, 20), "digital_level": integer(0, 4),
    },
    _procedure_rules,
)

category = obj({"id": slug, "name": text, "order": integer(0, 10000)},
               {"description": text, "icon": slug, "parent": slug}, lambda value: storable(value))
municipality = obj(
    {"id": ident, "name": short_text, "country": string(2, r"[A-Z]{2}", "an ISO 3166 country code"),
     "currency": currency, "languages": list_of(string(8), 10)},
    {"timezone": short_text, "url": url, "phone": short_text}, lambda value: storable(value),
)
tombstone = obj({"id": ident, "deleted_at": timestamp}, {"reason": short_text, "rev": integer(1)})


def _check_keywords(value: dict) -> None:
    keywords = value.get("keywords")
    if keywords:
        for lang, words in keywords.items():
            if type(lang) is not str or not _LANG.fullmatch(lang) or type(words) is not list \
                    or any(type(w) is not str for w in words):
                raise Invalid("expected lists of strings per language code").at(lang).at("keywords")
    external = value.get("external_ids")
    if external and any(type(v) is not str for v in external.values()):
        raise Invalid("expected string values").at("external_ids")


def storable(value: Any) -> None:
    """Raise `Invalid` if any key or string anywhere in `value` (unknown fields too, since they are
    stored as well) holds text a kiosk cannot store or show; see _UNSTORABLE."""
    try:
        serialized = json.dumps(value, ensure_ascii=False, allow_nan=False, default=_not_json)
    except Invalid:
        raise
    except (ValueError, TypeError, RecursionError):  # NaN, infinity, non-string keys, huge ints, depth
        raise Invalid("expected plain JSON values (no NaN or infinities)") from None
    if _may_hold_unstorable(serialized):
        _find_unstorable(value)


def _may_hold_unstorable(serialized: str) -> bool:
    """A first look at a whole record with C-speed string operations (a regex over every character
    costs as much as the serialisation itself)."""
    if any(escape in serialized for escape in _CONTROL_ESCAPES):
        return True
    try:
        serialized.encode("utf-8")  # fails on a lone surrogate and nothing else
    except UnicodeEncodeError:
        return True
    return False


def _not_json(value: Any) -> Any:
    raise Invalid(f"expected plain JSON values, got {_kind(value)}")


def _find_unstorable(value: Any) -> None:
    if type(value) is str:
        found = _UNSTORABLE.search(value)
        if found is not None:
            raise Invalid(f"text holds {_describe(found.group())}, which a kiosk cannot store or show")
    elif type(value) is dict:
        for key, item in value.items():
            _find_unstorable(key)
            try:
                _find_unstorable(item)
            except Invalid as error:
                raise error.at(key) from None
    elif type(value) is list:
        for index, item in enumerate(value):
            try:
                _find_unstorable(item)
            except Invalid as error:
                raise error.at(index) from None


def _describe(character: str) -> str:
    kind = "a lone surrogate" if "\ud800" <= character <= "\udfff" else "the control character"
    return f"{kind} U+{ord(character):04X}"


def validate_procedure(record: Any) -> None:
    """Raise `Invalid` unless `record` is a valid procedure that can be stored."""
    procedure(record)
    _check_keywords(record)
    storable(record)


def validate_procedures(records: Any, path: str = "procedures") -> None:
    """Validate a list of procedures and reject duplicate ids (which would make one shadow another)."""
    if type(records) is not list:
        raise Invalid(f"expected a list, got {_kind(records)}").at(path)
    seen: set[str] = set()
    for index, record in enumerate(records):
        try:
            validate_procedure(record)
        except Invalid as error:
            raise error.at(index).at(path) from None
        if record["id"] in seen:
            raise Invalid(f"duplicate procedure id {record['id']!r}", code="duplicate_id").at(index).at(path)
        seen.add(record["id"])


catalog_header = obj(
    {"format": enum(CATALOG_FORMAT), "revision": integer(1), "generated_at": timestamp,
     "municipality": municipality, "categories": list_of(category, 500, unique_id=True),
     "procedures": lambda value: None},
)


def validate_catalog(document: Any) -> None:
    """Raise `Invalid` unless `document` is a valid catalog snapshot."""
    catalog_header(document)
    validate_procedures(document["procedures"])
    _check_categories_known(document["procedures"], document["categories"], "procedures")


def _check_categories_known(records: list[dict], categories: list[dict], path: str) -> None:
    """Every procedure's categories are listed: one that is not would be unreachable on screen."""
    known = {item["id"] for item in categories}
    for index, record in enumerate(records):
        for name in record["categories"]:
            if name not in known:
                raise Invalid(f"unknown category {name!r}", code="unknown_category").at("categories").at(
                    index).at(path)


def validate_changes(document: Any) -> None:
    """Raise `Invalid` unless `document` is a valid changes-feed page.

    The page's `categories` replace the kiosk's list, so every upsert must name listed categories;
    that the records the kiosk keeps do too needs the stored catalog (the sync checks it)."""
    obj({"format": enum(CATALOG_FORMAT), "since": integer(0), "revision": integer(1),
         "generated_at": timestamp, "categories": list_of(category, 500, unique_id=True),
         "upserts": lambda value: None, "tombstones": list_of(tombstone, 100000)},
        {"municipality": municipality})(document)
    validate_procedures(document["upserts"], "upserts")
    _check_categories_known(document["upserts"], document["categories"], "upserts")
    tomb_ids = [item["id"] for item in document["tombstones"]]
    duplicated = _duplicates(tomb_ids) or sorted({r["id"] for r in document["upserts"]} & set(tomb_ids))
    if duplicated:
        raise Invalid(f"id {duplicated[0]!r} appears twice among upserts and tombstones",
                      code="duplicate_id").at("tombstones")


# ---- helpers shared by the generator, the sandbox and the importers --------------------------

def canonical_json(value: Any) -> bytes:
    """Stable serialisation used for content hashes (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_hash(record: Mapping[str, Any]) -> str:
    """sha256 of the record without its own meta.content_hash, so the hash can be stored inside it."""
    body = dict(record)
    body["meta"] = {key: value for key, value in record.get("meta", {}).items() if key != "content_hash"}
    return "sha256:" + hashlib.sha256(canonical_json(body)).hexdigest()


def with_content_hash(record: dict[str, Any]) -> dict[str, Any]:
    record["meta"]["content_hash"] = content_hash(record)
    return record


def without_nulls(record: dict[str, Any]) -> dict[str, Any]:
    """The record as a kiosk stores it: null members dropped (absent and null mean the same, and
    readers write `record.get("requirements", ())`), with the content hash of the record as
    published, so the signed catalog digest still holds."""
    cleaned = drop_nulls(record)
    cleaned["meta"]["content_hash"] = record["meta"].get("content_hash") or content_hash(record)
    return cleaned


def drop_nulls(value: Any) -> Any:
    """A copy of `value` whose objects, at any depth, have no null members."""
    if type(value) is dict:
        return {key: drop_nulls(item) for key, item in value.items() if item is not None}
    if type(value) is list:
        return [drop_nulls(item) for item in value]
    return value


def catalog_digest(pairs: Iterable[tuple[str, str]]) -> str:
    """Digest of a whole catalog as (id, content_hash) pairs; lets a kiosk prove a delta landed right."""
    digest = hashlib.sha256()
    for record_id, record_hash in sorted(pairs):
        digest.update(f"{record_id}\t{record_hash}\n".encode())
    return "sha256:" + digest.hexdigest()


def localized(value: Mapping[str, str] | None, lang: str = "es") -> str:
    """Pick the text for `lang`, falling back to its base language and then to any language."""
    if not value:
        return ""
    return value.get(lang) or value.get(lang.split("-")[0]) or next(iter(value.values()))


def in_force(cost: Mapping[str, Any], on: dt.date) -> bool:
    """Whether a cost applies on a date (the annual Ley de Ingresos gives each tariff a window)."""
    start, end = cost.get("effective_from"), cost.get("effective_to")
    return (not start or dt.date.fromisoformat(start) <= on) and (not end or on <= dt.date.fromisoformat(end))


def discount_on(cost: Mapping[str, Any], on: dt.date) -> Mapping[str, Any] | None:
    """The largest discount whose window contains the date (e.g. January's predial discount)."""
    windows = [d for d in cost.get("discounts") or ()
               if dt.date.fromisoformat(d["from"]) <= on <= dt.date.fromisoformat(d["to"])]
    return max(windows, key=lambda d: Decimal(d["percent"]), default=None)


def amount_due(cost: Mapping[str, Any], on: dt.date) -> Decimal | None:
    """What a fixed or free cost comes to on a date, discount applied, rounded to cents.

    None when the amount is not known in advance (range, formula, variable: the accounts API of
    the municipality must say) or when the cost is not in force on that date, so an offline
    kiosk never charges last year's tariff."""
    if not in_force(cost, on):
        return None
    if cost["kind"] == "free":
        return Decimal("0.00")
    if cost["kind"] != "fixed":
        return None
    amount = Decimal(cost["amount"])
    discount = discount_on(cost, on)
    if discount is not None:
        amount -= amount * Decimal(discount["percent"]) / 100
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


NO_KIOSK_ACTIONS: Mapping[str, Any] = {"pay": False, "request": False, "print": False, "account": None,
                                       "id_methods": ()}


def kiosk_actions(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """What the kiosk may do for a procedure: {pay, request, print, account, id_methods}.

    Only active procedures offer actions; a suspended one is shown (with its notice) but cannot be
    paid or requested at the kiosk, and one without a kiosk channel is information only."""
    if record.get("status") != "active":
        return NO_KIOSK_ACTIONS
    for channel_record in record.get("channels") or ():
        if channel_record.get("type") == "kiosk" and channel_record.get("kiosk"):
            actions = channel_record["kiosk"]
            return {"pay": actions["pay"], "request": actions["request"], "print": actions["print"],
                    "account": actions.get("account"), "id_methods": tuple(actions.get("id_methods") or ())}
    return NO_KIOSK_ACTIONS
