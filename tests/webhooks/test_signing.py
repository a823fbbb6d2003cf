"""Standard Webhooks signing: the spec's own vector, and our headers verified by the reference library."""

import base64
import time
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from webhooks.outbound.signing import (
    SecretInvalid,
    active_secrets,
    secret_generate,
    signature,
    signing_headers,
)

SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_spec_test_vector_signs_to_the_published_signature():
    assert (
        signature(secret=SPEC_SECRET, msg_id=SPEC_ID, timestamp=SPEC_TIMESTAMP, body=SPEC_BODY)
        == SPEC_SIGNATURE
    )


def test_a_different_body_id_or_timestamp_changes_the_signature():
    base = {"secret": SPEC_SECRET, "msg_id": SPEC_ID, "timestamp": SPEC_TIMESTAMP, "body": SPEC_BODY}
    for change in (
        {"body": b'{"test": 2432232315}'},
        {"msg_id": "msg_other"},
        {"timestamp": SPEC_TIMESTAMP + 1},
    ):
        assert signature(**{**base, **change}) != SPEC_SIGNATURE


def test_generated_secrets_are_whsec_base64_of_32_random_bytes():
    first, second = secret_generate(), secret_generate()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32


def test_the_reference_library_verifies_our_headers_and_refuses_a_tampered_body():
    secret = secret_generate()
    body = b'{"type":"contact.created","data":{"email":"ana@example.com"}}'
    headers = signing_headers(msg_id="msg_abc", timestamp=int(time.time()), body=body, secrets=[secret])

    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert Webhook(secret).verify(body, headers)["data"]["email"] == "ana@example.com"
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"ana", b"eve"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret_generate()).verify(body, headers)


def test_during_rotation_both_signatures_are_sent_and_each_verifies_with_its_own_secret():
    old, new = secret_generate(), secret_generate()
    body = b'{"type":"deal.updated"}'
    headers = signing_headers(msg_id="msg_rot", timestamp=int(time.time()), body=body, secrets=[new, old])

    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    for secret, sig in ((new, signatures[0]), (old, signatures[1])):
        alone = {**headers, "webhook-signature": sig}
        assert Webhook(secret).verify(body, alone) == {"type": "deal.updated"}


def test_the_previous_secret_signs_only_until_it_expires():
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    later = now + timedelta(hours=24)
    kwargs = {"secret": "whsec_new", "previous_secret": "whsec_old", "previous_expires_at": later}
    assert active_secrets(**kwargs, now=now) == ["whsec_new", "whsec_old"]
    assert active_secrets(**kwargs, now=later) == ["whsec_new"]
    assert active_secrets(secret="whsec_new", previous_secret=None, previous_expires_at=None, now=now) == [
        "whsec_new"
    ]


@pytest.mark.parametrize("bad", ["whsec_not base64!", "whsec_" + base64.b64encode(b"short").decode()])
def test_a_malformed_or_short_secret_is_refused_rather_than_signing_weakly(bad):
    with pytest.raises(SecretInvalid):
        signature(secret=bad, msg_id="msg_x", timestamp=1, body=b"{}")
