"""Shared webhook signature schemes (connectors.signatures): published vectors, tampering, wrong and missing secrets, stale times.

Every scheme gets a correctly signed request and a tampered one, so a verifier that always says yes
(or always no) fails here. HubSpot v3's vector lives in tests/connectors/hubspot.
"""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from connectors import signatures
from connectors.base import SignatureInvalid, WebhookRequest

# providers.md §9 (Facebook Lead Ads) known-answer vector.
FB_SECRET = "test_app_secret"
FB_BODY = (
    b'{"object":"page","entry":[{"id":"123","time":1730000000,"changes":[{"field":"leadgen","value":'
    b'{"leadgen_id":"444","page_id":"123","form_id":"555","adgroup_id":"666","ad_id":"666",'
    b'"created_time":1730000000}}]}]}'
)
FB_SIGNATURE = "sha256=e5e59e3a78d4a7c392e89393c70ca50df50e300ed82c3e619dfd1494d226820c"

# providers.md §8 (À La Carte Chat; MissionX signs the same way) known-answer vector.
ALC_SECRET = "alc_test_secret"
ALC_TIMESTAMP = "1762246800"
ALC_BODY = (
    b'{"event":"customer.updated","timestamp":"2025-11-04T09:00:00Z","business_id":"b1","data":'
    b'{"customer":{"id":"c1","name":"John Doe","email":"john@example.com","external_id":"CRM-12345"}}}'
)
ALC_SIGNATURE = "f69e6da1f9dd12e3d4bdfc39e1a871db4606c24002568580b2939fe141dfa1ed"


def request(body: bytes, headers: dict[str, str], method: str = "POST") -> WebhookRequest:
    return WebhookRequest(
        method=method, url="https://app.example.com/webhooks/in/x/1/", headers=headers, body=body
    )


# --- HMAC building blocks -----------------------------------------------------------------------


def test_hmac_signature_encodes_the_same_mac_as_hex_or_base64():
    hexed = signatures.hmac_signature("k", b"msg")
    b64 = signatures.hmac_signature("k", b"msg", encoding="base64")
    assert base64.b64decode(b64).hex() == hexed and len(hexed) == 64
    assert signatures.hmac_signature("k", b"msg", digest="sha1") != hexed[:40]  # a different digest


def test_verify_hmac_accepts_the_right_mac_and_refuses_tampering_and_the_wrong_secret():
    signature = signatures.hmac_signature("secret", b"body")
    signatures.verify_hmac("secret", b"body", signature)
    signatures.verify_hmac("secret", b"body", signature.upper())  # hex carries no case
    with pytest.raises(SignatureInvalid, match="mismatch"):
        signatures.verify_hmac("secret", b"body!", signature)
    with pytest.raises(SignatureInvalid, match="mismatch"):
        signatures.verify_hmac("another", b"body", signature)


def test_verify_hmac_base64_is_case_sensitive_and_prefixes_are_required_when_asked():
    signature = signatures.hmac_signature("secret", b"body", encoding="base64")
    signatures.verify_hmac("secret", b"body", signature, encoding="base64")
    with pytest.raises(SignatureInvalid):
        signatures.verify_hmac("secret", b"body", signature.swapcase(), encoding="base64")
    hexed = signatures.hmac_signature("secret", b"body")
    signatures.verify_hmac("secret", b"body", f"v1={hexed}", prefix="v1=")
    with pytest.raises(SignatureInvalid, match="start with"):
        signatures.verify_hmac("secret", b"body", hexed, prefix="v1=")


@pytest.mark.parametrize("secret, signature", [("", "abc"), ("secret", ""), ("secret", "   ")])
def test_verify_hmac_fails_closed_without_a_secret_or_a_signature(secret, signature):
    with pytest.raises(SignatureInvalid):
        signatures.verify_hmac(secret, b"", signature)


def test_signed_message_joins_timestamp_and_raw_body():
    assert signatures.signed_message("17", b'{"a":1}') == b'17.{"a":1}'
    assert signatures.signed_message("17", b"x", separator=b":") == b"17:x"


def test_check_timestamp_takes_seconds_or_milliseconds_and_refuses_stale_or_malformed():
    now = 1_700_000_000.0
    assert signatures.check_timestamp("1700000100", now=now) == 1_700_000_100
    assert signatures.check_timestamp("1700000100000", now=now, unit="ms") == 1_700_000_100
    assert signatures.check_timestamp("1700000100000", now=now, unit="auto") == 1_700_000_100
    assert signatures.check_timestamp("1699999800", now=now, unit="auto") == 1_699_999_800
    for stale in ("1699999699", "1700000301"):  # 301 s either side of now
        with pytest.raises(SignatureInvalid, match="stale"):
            signatures.check_timestamp(stale, now=now)
    with pytest.raises(SignatureInvalid, match="stale"):
        signatures.check_timestamp("1700000100", now=now, unit="ms")  # seconds read as ms: 1970
    for bad in ("", "abc", "-5", "17.5"):
        with pytest.raises(SignatureInvalid, match="malformed"):
            signatures.check_timestamp(bad, now=now)
    signatures.check_timestamp("1699999000", now=now, tolerance=1000)


# --- À La Carte Chat / MissionX -------------------------------------------------------------------


def alc_request(
    body: bytes = ALC_BODY, signature: str = ALC_SIGNATURE, ts: str = ALC_TIMESTAMP
) -> WebhookRequest:
    # Lower-case header names on purpose: lookups must be case-insensitive.
    return request(body, {"x-webhook-signature": signature, "x-webhook-timestamp": ts})


def test_alacarte_vector_verifies():
    signatures.verify_timestamped_hmac(alc_request(), secret=ALC_SECRET, now=int(ALC_TIMESTAMP) + 10)


@pytest.mark.parametrize(
    "req, secret, now, match",
    [
        (alc_request(body=ALC_BODY.replace(b"John", b"Jane")), ALC_SECRET, 1762246810, "mismatch"),
        (alc_request(), "wrong_secret", 1762246810, "mismatch"),
        (alc_request(), "", 1762246810, "no signing secret"),
        (alc_request(), ALC_SECRET, 1762246800 + 301, "stale"),
        (alc_request(ts="1762246801"), ALC_SECRET, 1762246810, "mismatch"),  # timestamp is signed too
        (alc_request(signature=""), ALC_SECRET, 1762246810, "no signature"),
        (alc_request(ts=""), ALC_SECRET, 1762246810, "malformed"),
    ],
    ids=[
        "tampered-body",
        "wrong-secret",
        "no-secret",
        "stale",
        "moved-timestamp",
        "no-signature",
        "no-timestamp",
    ],
)
def test_alacarte_refuses_what_was_not_signed_now_with_our_secret(req, secret, now, match):
    with pytest.raises(SignatureInvalid, match=match):
        signatures.verify_timestamped_hmac(req, secret=secret, now=now)


# --- AITable --------------------------------------------------------------------------------------


def test_aitable_accepts_the_shared_secret_verbatim_and_the_body_hmac_only_when_enabled():
    body = b'{"eventType":"record.updated","recordId":"rec1"}'
    signatures.verify_aitable(request(body, {"X-AITable-Signature": "s3cret"}), secret="s3cret")
    signed = request(body, {"X-AITable-Signature": signatures.hmac_signature("s3cret", body)})
    with pytest.raises(SignatureInvalid):
        signatures.verify_aitable(signed, secret="s3cret")
    signatures.verify_aitable(signed, secret="s3cret", accept_hmac=True)
    tampered = request(body + b" ", {"X-AITable-Signature": signatures.hmac_signature("s3cret", body)})
    with pytest.raises(SignatureInvalid):
        signatures.verify_aitable(tampered, secret="s3cret", accept_hmac=True)


@pytest.mark.parametrize("header, secret", [("wrong", "s3cret"), ("", "s3cret"), ("", ""), ("anything", "")])
def test_aitable_fails_closed(header, secret):
    with pytest.raises(SignatureInvalid):
        signatures.verify_aitable(request(b"{}", {"X-AITable-Signature": header}), secret=secret)


# --- Facebook ------------------------------------------------------------------------------------


def test_facebook_vector_verifies():
    signatures.verify_facebook(request(FB_BODY, {"X-Hub-Signature-256": FB_SIGNATURE}), secret=FB_SECRET)


@pytest.mark.parametrize(
    "body, header, secret",
    [
        (FB_BODY.replace(b"444", b"445"), FB_SIGNATURE, FB_SECRET),
        (FB_BODY, FB_SIGNATURE, "another_secret"),
        (FB_BODY, FB_SIGNATURE, ""),
        (FB_BODY, FB_SIGNATURE.removeprefix("sha256="), FB_SECRET),  # the prefix is part of the scheme
        (FB_BODY, "", FB_SECRET),
        # Re-serialised JSON is not the signed bytes.
        (json.dumps(json.loads(FB_BODY)).encode(), FB_SIGNATURE, FB_SECRET),
    ],
    ids=["tampered", "wrong-secret", "no-secret", "no-prefix", "no-header", "reserialised"],
)
def test_facebook_refuses_tampered_or_unsigned_bodies(body, header, secret):
    with pytest.raises(SignatureInvalid):
        signatures.verify_facebook(request(body, {"X-Hub-Signature-256": header}), secret=secret)


def test_hub_challenge_echoes_only_a_subscribe_with_our_verify_token():
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "ours"}
    assert signatures.hub_challenge(query, verify_token="ours") == "1158201444"
    assert signatures.hub_challenge({**query, "hub.verify_token": "theirs"}, verify_token="ours") is None
    assert signatures.hub_challenge({**query, "hub.mode": "unsubscribe"}, verify_token="ours") is None
    assert signatures.hub_challenge({**query, "hub.challenge": ""}, verify_token="ours") is None
    assert signatures.hub_challenge({**query, "hub.verify_token": ""}, verify_token="") is None


# --- GoHighLevel: Ed25519 and RSA ------------------------------------------------------------------


@pytest.fixture(scope="module")
def ed_key():
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(private_key) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def raw_ed(private_key) -> bytes:
    return private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


GHL_BODY = b'{"type":"ContactUpdate","id":"c1","webhookId":"w1","timestamp":"2025-01-01T10:00:00.000Z"}'
GHL_NOW = 1735725610.0  # 10 s after the body's timestamp


def ed_sign(key, body: bytes = GHL_BODY) -> str:
    return base64.b64encode(key.sign(body)).decode()


def rsa_sign(key, body: bytes = GHL_BODY) -> str:
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


@pytest.mark.parametrize("form", ["pem", "base64 spki", "base64", "hex"])
def test_gohighlevel_ed25519_verifies_with_the_key_in_any_configured_form(ed_key, form):
    spki = ed_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = {
        "pem": pem(ed_key),
        "base64 spki": base64.b64encode(spki).decode(),  # the form GoHighLevel publishes
        "base64": base64.b64encode(raw_ed(ed_key)).decode(),
        "hex": raw_ed(ed_key).hex(),
    }
    req = request(GHL_BODY, {"x-ghl-signature": ed_sign(ed_key)})
    signatures.verify_gohighlevel(req, ed25519_key=key[form], now=GHL_NOW)


def test_gohighlevel_ed25519_refuses_tampering_another_key_and_a_missing_key(ed_key):
    other = ed25519.Ed25519PrivateKey.generate()
    tampered = request(GHL_BODY.replace(b"c1", b"c2"), {"x-ghl-signature": ed_sign(ed_key)})
    with pytest.raises(SignatureInvalid, match="mismatch"):
        signatures.verify_gohighlevel(tampered, ed25519_key=pem(ed_key))
    signed_by_other = request(GHL_BODY, {"x-ghl-signature": ed_sign(other)})
    with pytest.raises(SignatureInvalid, match="mismatch"):
        signatures.verify_gohighlevel(signed_by_other, ed25519_key=pem(ed_key))
    with pytest.raises(SignatureInvalid, match="no public key"):
        signatures.verify_gohighlevel(request(GHL_BODY, {"x-ghl-signature": ed_sign(ed_key)}))
    with pytest.raises(SignatureInvalid, match="base64"):
        signatures.verify_gohighlevel(
            request(GHL_BODY, {"x-ghl-signature": "not base64!"}), ed25519_key=pem(ed_key)
        )


def test_gohighlevel_rsa_legacy_signature_verifies_and_refuses_tampering(rsa_key):
    req = request(GHL_BODY, {"x-wh-signature": rsa_sign(rsa_key)})
    signatures.verify_gohighlevel(req, rsa_key=pem(rsa_key), now=GHL_NOW)
    tampered = request(GHL_BODY + b"\n", {"x-wh-signature": rsa_sign(rsa_key)})
    with pytest.raises(SignatureInvalid, match="mismatch"):
        signatures.verify_gohighlevel(tampered, rsa_key=pem(rsa_key))
    with pytest.raises(SignatureInvalid, match="no public key"):
        signatures.verify_gohighlevel(req)


def test_gohighlevel_checks_only_the_current_signature_when_both_are_present(ed_key, rsa_key):
    # A valid legacy signature must not rescue a bad current one.
    req = request(
        GHL_BODY, {"x-ghl-signature": ed_sign(ed_key, b"other"), "x-wh-signature": rsa_sign(rsa_key)}
    )
    with pytest.raises(SignatureInvalid, match="mismatch"):
        signatures.verify_gohighlevel(req, ed25519_key=pem(ed_key), rsa_key=pem(rsa_key))


def test_gohighlevel_refuses_keys_of_the_wrong_kind_and_unsigned_requests(ed_key, rsa_key):
    with pytest.raises(SignatureInvalid, match="not an Ed25519"):
        signatures.verify_gohighlevel(
            request(GHL_BODY, {"x-ghl-signature": ed_sign(ed_key)}), ed25519_key=pem(rsa_key)
        )
    with pytest.raises(SignatureInvalid, match="not an RSA"):
        signatures.verify_gohighlevel(
            request(GHL_BODY, {"x-wh-signature": rsa_sign(rsa_key)}), rsa_key=pem(ed_key)
        )
    with pytest.raises(SignatureInvalid, match="no x-ghl-signature"):
        signatures.verify_gohighlevel(request(GHL_BODY, {}), ed25519_key=pem(ed_key), rsa_key=pem(rsa_key))
    with pytest.raises(SignatureInvalid, match="cannot be read"):
        signatures.verify_gohighlevel(
            request(GHL_BODY, {"x-ghl-signature": ed_sign(ed_key)}),
            ed25519_key="-----BEGIN PUBLIC KEY-----\nxx",
        )


def test_gohighlevel_replay_window_on_the_signed_body_timestamp(ed_key):
    req = request(GHL_BODY, {"x-ghl-signature": ed_sign(ed_key)})
    with pytest.raises(SignatureInvalid, match="stale"):
        signatures.verify_gohighlevel(req, ed25519_key=pem(ed_key), now=GHL_NOW + 600)
    undated = b'{"type":"ContactUpdate","id":"c1"}'
    with pytest.raises(SignatureInvalid, match="timestamp"):
        signatures.verify_gohighlevel(
            request(undated, {"x-ghl-signature": ed_sign(ed_key, undated)}),
            ed25519_key=pem(ed_key),
            now=GHL_NOW,
        )


# --- sender addresses ----------------------------------------------------------------------------


def test_the_gohighlevel_catalog_ships_the_published_keys_as_config_defaults():
    """GoHighLevel publishes its webhook keys: the catalog carries them as defaults (not in code),
    so a new integration verifies both headers without the operator pasting anything."""
    from integrations.catalog_loader import CATALOG_DIR

    schema = json.loads((CATALOG_DIR / "gohighlevel.json").read_text())["config_schema"]["properties"]
    ed = signatures.load_public_key(schema["webhook_public_key"]["default"])
    legacy = signatures.load_public_key(schema["webhook_rsa_public_key"]["default"])
    assert isinstance(ed, ed25519.Ed25519PublicKey)
    assert isinstance(legacy, rsa.RSAPublicKey) and legacy.key_size == 4096


def test_matches_any_finds_the_signature_among_candidates_and_nothing_else():
    candidates = [signatures.hmac_signature(k, b"msg") for k in ("old", "new")]
    assert signatures.matches_any(candidates, signatures.hmac_signature("new", b"msg"))
    assert not signatures.matches_any(candidates, signatures.hmac_signature("other", b"msg"))
    assert not signatures.matches_any([], "")
