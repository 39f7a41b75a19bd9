"""Property-based tests of everything a publisher or the network can send a kiosk's catalog sync.

Each property feeds one entry point arbitrary or mutated input and checks that it ends in a
verdict, never in any other exception: the validators accept a record or raise `Invalid` (with a
reason code), the manifest verifier returns a well-typed `Manifest` or raises `SignatureError`, the
bounded JSON reader returns a value or raises `WireError`, and a changes page fed to the real
`CatalogSync` (over an in-memory transport, a real SQLite file) either applies exactly or fails
with a reason code and leaves the stored catalog as it was.

`make test` runs a short run of each (`fuzz_settings(short=N)`); `make fuzz` runs
KIOSK_FUZZ_EXAMPLES examples of each and prints the counts.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import event, given
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from kiosk.catalog import signing, wire
from kiosk.catalog.model import (
    CATALOG_FORMAT,
    Invalid,
    amount_due,
    catalog_digest,
    category,
    content_hash,
    kiosk_actions,
    municipality,
    tombstone,
    validate_catalog,
    validate_changes,
    validate_procedure,
    with_content_hash,
    without_nulls,
)
from kiosk.catalog.sample import build_sample
from kiosk.catalog.store import CatalogStore
from kiosk.catalog.sync import CatalogSync, SyncError, SyncSettings
from tests.conftest import count_example, fuzz_settings

pytestmark = pytest.mark.fuzz

SAMPLE = build_sample()
KEY = Ed25519PrivateKey.generate()
PUBLIC = KEY.public_key()
INVALID_CODES = {"invalid_record", "duplicate_id", "unknown_category"}
SYNC_REASONS = {"signature", "expired", "rollback", "truncated", "hash_mismatch", "malformed_json",
                "invalid_record", "duplicate_id", "unknown_category", "unknown_tombstone", "manifest_mismatch",
                "digest_mismatch"}

# Values the validators look for, so mutations reach past the first type check.
WORDS = ["es", "es-MX", "en", "MXN", "CLP", "2026-01-01", "2026-12-31", "2026-01-02T08:00:00Z", "P3D", "PT15M",
         "08:00", "24:00", "204.50", "0", "fixed", "range", "free", "formula", "variable", "document", "kiosk",
         "active", "suspended", "tramite", "sadv:PRE-001", "predial", "agua", "https://example.gob.mx/x",
         "sha256:" + "0" * 64, "", " ", "\ud800", "\udfff x", "a\x00b", "\x1b@", "\\", '"', "[", "{}", "null"]
texts = st.one_of(st.sampled_from(WORDS),
                  st.text(alphabet=st.characters(exclude_categories=()), max_size=12))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.sampled_from([0, 1, 20, 1000]),
                    st.floats(), texts)
json_like = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)), max_leaves=12)


# ---- mutations of real documents ---------------------------------------------------------------

def _copy(value: Any) -> Any:
    """A deep copy of a JSON value (several times faster than copy.deepcopy)."""
    return json.loads(json.dumps(value))


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every (path, node) of a JSON value, the root first."""
    yield prefix, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _parent(root: Any, path: tuple) -> Any:
    for step in path[:-1]:
        root = root[step]
    return root


def _group(node: Any) -> str:
    if isinstance(node, str):
        return "text"
    if isinstance(node, (dict, list)):
        return "container"
    return "number" if isinstance(node, (int, float)) and not isinstance(node, bool) else "other"


# A value like the one replaced, so that mutations get past the type checks: texts that cannot be
# stored, counts that are null or out of range, emptied containers.
ALIKE = {
    "text": st.one_of(st.sampled_from(["\ud800", "x \udfff", "\x00", "a\x1bb", "\x7f", "", " "]), texts),
    "number": st.one_of(st.none(), st.integers(-5, 2**60), st.sampled_from([0, -1, 2**53 + 1]), st.floats()),
    "container": st.one_of(st.sampled_from([{}, [], None]), json_like),
    "other": scalars,
}


@st.composite
def mutated(draw: st.DrawFn, base: Any, most: int = 3) -> Any:
    """`base` with one to `most` nodes changed: given a value alike (a text for a text, a number or
    null for a number), replaced by any JSON value, nulled, deleted, given an unknown neighbour, or
    repeated. Nodes are picked by kind first, so the few numbers are not drowned by the many texts."""
    value = _copy(base)
    for _ in range(draw(st.integers(1, most))):
        groups: dict[str, list[tuple]] = {}
        for path, node in _paths(value):
            groups.setdefault(_group(node), []).append(path)
        group = draw(st.sampled_from(sorted(groups)))
        path = draw(st.sampled_from(groups[group]))
        action = draw(st.sampled_from(["alike", "alike", "replace", "null", "delete", "add", "duplicate"]))
        if not path:
            value = draw(json_like) if action == "replace" else value
            continue
        parent, last = _parent(value, path), path[-1]
        if action == "alike":
            parent[last] = draw(ALIKE[group])
        elif action == "replace":
            parent[last] = draw(json_like)
        elif action == "null":
            parent[last] = None
        elif action == "delete":
            del parent[last]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(texts)] = draw(json_like)
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(_copy(parent[last]))
    return value


def _sample_procedures() -> list[dict]:
    """A few records that between them hold every cost kind, kiosk actions and offices."""
    chosen: dict[str, dict] = {}
    for record in SAMPLE["procedures"]:
        for cost in record.get("costs") or ():
            chosen.setdefault(cost["kind"], record)
        if any(channel.get("kiosk") for channel in record.get("channels") or ()):
            chosen.setdefault("kiosk", record)
    return list(chosen.values())


PROCEDURES = _sample_procedures()


# ---- 1. the validators ---------------------------------------------------------------------------

def _verdict(check, value: Any) -> bool:
    try:
        check(value)
    except Invalid as refusal:
        assert refusal.code in INVALID_CODES and str(refusal)
        return False
    return True


def _labelled(label: str, strategy: st.SearchStrategy) -> st.SearchStrategy:
    return strategy.map(lambda value: (label, value))


validator_inputs = st.one_of(
    _labelled("arbitrary JSON value", json_like),
    _labelled("mutated procedure", st.sampled_from(PROCEDURES).flatmap(mutated)),
    _labelled("mutated category", st.sampled_from(SAMPLE["categories"]).flatmap(mutated)),
)


@fuzz_settings(short=300)
@given(labelled=validator_inputs)
def test_validators_give_a_verdict(labelled):
    label, value = labelled
    count_example(f"validators: {label}")
    for check in (category, municipality, tombstone, validate_catalog, validate_changes):
        _verdict(check, value)
    accepted = _verdict(validate_procedure, value)
    event(f"{label}: {'accepted' if accepted else 'refused'}")
    if accepted:  # stored as a kiosk stores it, read back unchanged, usable by the screens
        stored = without_nulls(value)
        text = json.dumps(stored, ensure_ascii=False, allow_nan=False).encode("utf-8")
        assert json.loads(text) == stored
        assert set(kiosk_actions(stored)) == {"pay", "request", "print", "account", "id_methods"}
        for cost in stored.get("costs", ()):
            amount_due(cost, dt.date(2026, 1, 15))


# ---- 2. the signed manifest --------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


BASE_MANIFEST = signing.build_manifest("changes", 2, b"{}", "sha256:" + "0" * 64, 158, since=1)
SIGNED_HEADER = signing.sign_manifest(BASE_MANIFEST, KEY)
SIGNED = signing.verify_manifest(SIGNED_HEADER, PUBLIC)


def _signed(fields: Any) -> str:
    try:
        return signing.sign_manifest(fields, KEY)
    except (TypeError, ValueError):  # not even serialisable by the publisher's own tool
        return SIGNED_HEADER


def _one_changed(position_and_character: tuple[int, str]) -> str:
    position, character = position_and_character
    return SIGNED_HEADER[:position] + character + SIGNED_HEADER[position + 1:]


envelopes = st.fixed_dictionaries({
    "payloadType": st.one_of(st.just(signing.PAYLOAD_TYPE), json_like),
    "payload": st.one_of(st.binary(max_size=80).map(lambda raw: base64.b64encode(raw).decode()), json_like),
    "signatures": st.one_of(json_like, st.lists(st.fixed_dictionaries(
        {"keyid": st.one_of(st.just(signing.key_id(PUBLIC)), texts),
         "sig": st.binary(min_size=64, max_size=64).map(lambda raw: base64.b64encode(raw).decode())}), max_size=2)),
})
manifest_inputs = st.one_of(
    _labelled("unsigned text", st.text(max_size=200)),
    _labelled("unsigned bytes", st.binary(max_size=400).map(_b64)),
    _labelled("unsigned JSON", json_like.map(lambda value: _b64(json.dumps(value).encode()))),
    _labelled("forged envelope", envelopes.map(lambda value: _b64(json.dumps(value).encode()))),
    _labelled("signed, mutated fields", mutated(BASE_MANIFEST).map(_signed)),
    _labelled("signed, one character changed", st.tuples(
        st.integers(0, len(SIGNED_HEADER) - 1), st.characters(max_codepoint=0x17F)).map(_one_changed)),
)


@fuzz_settings(short=300)
@given(labelled=manifest_inputs)
def test_manifest_verifier_gives_a_verdict(labelled):
    label, header = labelled
    count_example(f"manifest: {label}")
    try:
        manifest = signing.verify_manifest(header, PUBLIC)
    except signing.SignatureError as refusal:
        assert "\n" not in str(refusal)
        return
    assert label.startswith("signed"), "a header nobody signed was accepted"
    if label == "signed, one character changed":  # base64 skips some characters: payload intact
        assert manifest == SIGNED
    assert manifest.kind in ("snapshot", "changes")
    assert all(type(number) is int for number in (manifest.revision, manifest.length, manifest.count))
    assert manifest.revision >= 1 and manifest.length >= 0 and manifest.count >= 0
    assert manifest.since is None or (type(manifest.since) is int and manifest.since >= 0)
    assert manifest.issued_at.utcoffset() == dt.timedelta(0) and manifest.expires_at.utcoffset() == dt.timedelta(0)
    assert len(manifest.sha256) == 64 and manifest.digest.startswith("sha256:")


# ---- 3. the bounded JSON reader ----------------------------------------------------------------

def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


finite_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
              st.text(alphabet='[]{}"\\ aé\n', max_size=8), texts),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(texts, children, max_size=3)),
    max_leaves=30)


def _json_text(value_ascii_indent: tuple[Any, bool, int | None]) -> tuple[bytes, int]:
    value, ascii_only, indent = value_ascii_indent
    return json.dumps(value, ensure_ascii=ascii_only, indent=indent).encode("utf-8", "surrogatepass"), _depth(value)


reader_inputs = st.one_of(
    _labelled("valid JSON", st.tuples(finite_json, st.booleans(), st.sampled_from([None, 0, 2])).map(_json_text)),
    _labelled("arbitrary bytes", st.binary(max_size=300).map(lambda data: (data, None))),
    _labelled("deep arrays", st.integers(1, 5000).map(lambda n: (b"[" * n + b"]" * n, n))),
    _labelled("unclosed arrays", st.integers(1, 5000).map(lambda n: (b"[" * n, None))),
    _labelled("deep objects", st.integers(1, 2000).map(lambda n: (b'{"a":' * n + b"1" + b"}" * n, n))),
)


@fuzz_settings(short=300)
@given(labelled=reader_inputs)
def test_bounded_reader_gives_a_verdict(labelled):
    label, (data, depth) = labelled
    count_example(f"wire: {label}")
    if depth is not None:
        assert wire.nesting_depth(data) == depth
    try:
        value = wire.loads(data, max_depth=32)
    except wire.WireError as refusal:
        assert "\n" not in str(refusal)
        assert depth is None or depth > 32 or b"\xed" in data  # valid UTF-8 JSON within bounds passes
        return
    assert _depth(value) <= 32
    json.dumps(value, allow_nan=False)  # no NaN or Infinity got through


# ---- 4. the changes feed, applied by the real sync ----------------------------------------------

class Canned(requests.adapters.BaseAdapter):
    """A requests transport that answers with whatever the test set last (no sockets)."""

    def __init__(self) -> None:
        super().__init__()
        self.answer: tuple[int, bytes, dict[str, str]] = (503, b"", {})

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        status, body, headers = self.answer
        response = requests.Response()
        response.status_code, response.raw = status, io.BytesIO(body)
        response.request, response.url = request, request.url
        response.headers = CaseInsensitiveDict({"Content-Length": str(len(body)), **headers})
        return response

    def close(self) -> None:
        pass


def _signed_answer(body: bytes, kind: str, revision: int, digest: str, count: int, since: int | None = None,
                   lifetime: dt.timedelta = dt.timedelta(days=7)) -> tuple[int, bytes, dict[str, str]]:
    manifest = signing.build_manifest(kind, revision, body, digest, count, since=since, lifetime=lifetime)
    return 200, body, {"Content-Type": "application/json", "ETag": f'"rev-{revision}"',
                       signing.MANIFEST_HEADER: signing.sign_manifest(manifest, KEY)}


@pytest.fixture(scope="module")
def feed(tmp_path_factory) -> Iterator[tuple[CatalogSync, Canned]]:
    shm = Path("/dev/shm")  # the same SQLite code on tmpfs: the long run is not bound by fsync
    root = Path(tmp_path_factory.mktemp("feed", numbered=True)) if not shm.is_dir() else shm
    store_path = root / f"fuzz-feed-{id(tmp_path_factory)}.sqlite"
    store = CatalogStore(store_path)
    transport = Canned()
    session = requests.Session()
    session.mount("http://", transport)
    settings = SyncSettings("http://catalog.invalid", PUBLIC, attempts=1)
    sync = CatalogSync(settings, store, session=session)
    records = [with_content_hash(copy.deepcopy(record)) for record in SAMPLE["procedures"]]
    document = dict(SAMPLE, procedures=records)
    digest = catalog_digest((record["id"], record["meta"]["content_hash"]) for record in records)
    transport.answer = _signed_answer(json.dumps(document).encode(), "snapshot", 1, digest, len(records))
    sync.sync_once()
    try:
        yield sync, transport
    finally:
        store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store_path}{suffix}").unlink(missing_ok=True)


IDS = [record["id"] for record in SAMPLE["procedures"]] + ["sadv:NEW-1", "sadv:NEW-2"]
BY_ID = {record["id"]: record for record in SAMPLE["procedures"]}


@st.composite
def pages(draw: st.DrawFn) -> dict:
    """A changes page built from the sample: some upserts (changed, new, recategorised or mutated),
    some tombstones (known or not), the category list (whole, shortened or extended)."""
    upserts = []
    for record_id in draw(st.lists(st.sampled_from(IDS), max_size=4, unique=True)):
        record = _copy(BY_ID.get(record_id, SAMPLE["procedures"][0]))
        record["id"] = record_id
        record["popularity"] = draw(st.integers(0, 1000))
        if draw(st.booleans()):
            record["categories"] = draw(st.lists(st.sampled_from(["predial", "agua", "fantasma", "catastro"]),
                                                 min_size=1, max_size=2, unique=True))
        if draw(st.integers(0, 3)) == 0:
            record = draw(mutated(record, most=2))
        upserts.append(record)
    tombstones = [{"id": record_id, "deleted_at": "2026-01-03T08:00:00Z"}
                  for record_id in draw(st.lists(st.sampled_from(IDS), max_size=3, unique=True))]
    categories = _copy(SAMPLE["categories"])
    choice = draw(st.sampled_from(["same", "same", "drop", "add"]))
    if choice == "drop":
        del categories[draw(st.integers(0, len(categories) - 1))]
    elif choice == "add":
        categories.append({"id": "fantasma", "name": {"es": "Fantasma"}, "order": 99})
    page = {"format": CATALOG_FORMAT, "since": 0, "revision": 0, "generated_at": "2026-01-03T08:00:00Z",
            "categories": categories, "upserts": upserts, "tombstones": tombstones}
    return draw(mutated(page, most=1)) if draw(st.integers(0, 5)) == 0 else page


def _expected_hashes(store: CatalogStore, page: dict) -> dict[str, str]:
    """The (id, content_hash) pairs of the catalog once `page` applies (what its digest signs)."""
    hashes = dict(store.db.execute("SELECT id, content_hash FROM procedures").fetchall())
    try:
        for item in page.get("tombstones") or ():
            hashes.pop(item["id"], None)
        for record in page.get("upserts") or ():
            hashes[record["id"]] = (record.get("meta") or {}).get("content_hash") or content_hash(record)
        catalog_digest(hashes.items())
    except (TypeError, KeyError, AttributeError, ValueError):  # ValueError: an id no UTF-8 can hold
        return {}  # a mutated page the validator will refuse; any digest does
    return hashes


def _stored_catalog(store: CatalogStore) -> tuple:
    state = store.state()
    return state.get("revision"), state.get("digest"), store.count()


def _reset(sync: CatalogSync, transport: Canned, revision: int) -> None:
    """Back to the whole sample at a new revision, so a long run does not drift into a catalog
    that every page conflicts with."""
    records = [with_content_hash(copy.deepcopy(record)) for record in SAMPLE["procedures"]]
    document = dict(SAMPLE, revision=revision, procedures=records)
    digest = catalog_digest((record["id"], record["meta"]["content_hash"]) for record in records)
    transport.answer = _signed_answer(json.dumps(document).encode(), "snapshot", revision, digest, len(records))
    sync.sync_once(full=True)


@fuzz_settings(short=60)
@given(page=pages(), twist=st.sampled_from(["none"] * 6 + ["revision", "since", "digest", "expired", "bytes"]),
       data=st.data())
def test_changes_pages_apply_exactly_or_leave_the_catalog(feed, page, twist, data):
    count_example("feed: changes pages through CatalogSync")
    sync, transport = feed
    store = sync.store
    if store.revision() % 20 == 0:
        _reset(sync, transport, store.revision() + 1)
    before = _stored_catalog(store)
    revision = before[0] + 1
    if isinstance(page, dict):
        if page.get("since") == 0:
            page["since"] = before[0] - (1 if twist == "since" else 0)
        if page.get("revision") == 0:
            page["revision"] = revision
    hashes = _expected_hashes(store, page) if isinstance(page, dict) else {}
    body = json.dumps(page).encode()
    if twist == "bytes":  # what is drawn must not depend on the store (hypothesis replays draws)
        position = data.draw(st.integers(0, 2**20)) % len(body)
        body = body[:position] + bytes([data.draw(st.integers(0, 255))]) + body[position + 1:]
    digest = catalog_digest(hashes.items()) if twist != "digest" else "sha256:" + "1" * 64
    signed_revision = revision if twist != "revision" else max(1, revision + data.draw(st.sampled_from([-2, -1, 1])))
    transport.answer = _signed_answer(body, "changes", signed_revision, digest, len(hashes), since=before[0],
                                      lifetime=dt.timedelta(hours=-1 if twist == "expired" else 24 * 7))
    try:
        result = sync.sync_once()
    except SyncError as refusal:
        event(f"refused: {refusal.code}")
        assert refusal.code in SYNC_REASONS, f"{refusal.code}: {refusal}"
        assert _stored_catalog(store) == before
        assert store.status()["last_error"]["reason"] == refusal.code
        return
    event(f"applied: {len(result.added)} added, {len(result.updated)} updated, {len(result.removed)} removed")
    assert result.revision == revision == store.revision()
    assert store.state()["digest"] == catalog_digest(hashes.items())
    assert store.count() == len(hashes)
    known = {item["id"] for item in store.categories()}
    for (names,) in store.db.execute("SELECT categories FROM procedures"):
        assert set(json.loads(names)) <= known  # nothing stored is unreachable on screen
