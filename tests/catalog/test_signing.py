"""Keys and the signed manifest envelope."""

from __future__ import annotations

import base64
import json
import stat

import pytest

from kiosk.catalog import signing


def test_generate_writes_private_0600_and_one_line_public(tmp_path):
    private, public = signing.generate_keys(tmp_path)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    text = public.read_text().strip()
    assert text.startswith("ed25519:") and "\n" not in text
    with pytest.raises(FileExistsError):
        signing.generate_keys(tmp_path)


def test_public_key_as_text_path_or_relative_path(tmp_path):
    _, public = signing.generate_keys(tmp_path / "k")
    text = public.read_text().strip()
    one = signing.parse_public_key(text)
    assert signing.key_id(signing.parse_public_key(str(public))) == signing.key_id(one)
    assert signing.key_id(signing.parse_public_key("k/signing.pub", tmp_path)) == signing.key_id(one)
    assert signing.key_id(signing.parse_public_key(text.removeprefix("ed25519:"))) == signing.key_id(one)
    with pytest.raises(ValueError, match="no public key configured"):
        signing.parse_public_key("")
    with pytest.raises(ValueError, match="neither a key nor a readable file"):
        signing.parse_public_key("/nonexistent/signing.pub")


@pytest.fixture
def signed(tmp_path):
    signing.generate_keys(tmp_path)
    key = signing.load_private_key(tmp_path / "signing.key")
    manifest = signing.build_manifest("snapshot", 3, b"{}", "sha256:" + "0" * 64, 0)
    return key, signing.sign_manifest(manifest, key)


def _envelope(header):
    return json.loads(base64.urlsafe_b64decode(header))


def _header(envelope):
    return base64.urlsafe_b64encode(json.dumps(envelope).encode()).decode()


def test_valid_manifest_verifies(signed):
    key, header = signed
    manifest = signing.verify_manifest(header, key.public_key())
    assert manifest.revision == 3 and manifest.kind == "snapshot" and manifest.length == 2


def test_payload_change_breaks_the_signature(signed):
    key, header = signed
    envelope = _envelope(header)
    payload = json.loads(base64.b64decode(envelope["payload"]))
    payload["revision"] = 99
    envelope["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    with pytest.raises(signing.SignatureError, match="does not verify"):
        signing.verify_manifest(_header(envelope), key.public_key())


def test_wrong_payload_type_is_refused(signed):
    key, header = signed
    envelope = _envelope(header)
    envelope["payloadType"] = "application/json"
    with pytest.raises(signing.SignatureError, match="wrong payload type"):
        signing.verify_manifest(_header(envelope), key.public_key())


def test_other_key_and_garbage_are_refused(signed, tmp_path):
    key, header = signed
    signing.generate_keys(tmp_path / "other")
    other = signing.load_private_key(tmp_path / "other" / "signing.key").public_key()
    with pytest.raises(signing.SignatureError, match="not signed by the pinned key"):
        signing.verify_manifest(header, other)
    for bad in ("", "!!!", "e30=", header[:-10], "A" * 20000):
        with pytest.raises(signing.SignatureError):
            signing.verify_manifest(bad, key.public_key())
