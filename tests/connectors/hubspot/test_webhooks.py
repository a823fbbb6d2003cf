"""HubSpot signatures against the published vectors, and the ways a request must be refused."""

import json

import pytest

from connectors.base import SignatureInvalid, WebhookRequest
from connectors.hubspot import webhooks

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
URI = "https://www.example.com/webhook_uri"
BODY = b"{'example_field':'example_value'}"
TIMESTAMP = "1693657560000"
NOW = 1693657560 + 10
# The event array exactly as HubSpot's docs and SDK tests sign it (appId last).
EVENTS = (
    b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM",'
    b'"changeFlag":"NEW","appId":54321}]'
)


def v3_request(
    *, body=BODY, signature="K36dawei4A+QBNolUOqo7s91KQDWQ5MXZ/QufNYuk/Y=", timestamp=TIMESTAMP, url=URI
):
    headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": timestamp}
    return WebhookRequest(method="POST", url=url, headers=headers, body=body)


def legacy_request(signature, *, version, method="POST", body=BODY):
    headers = {"X-HubSpot-Signature": signature, "X-HubSpot-Signature-Version": version}
    return WebhookRequest(method=method, url=URI, headers=headers, body=body)


def test_v3_published_vector_verifies():
    assert (
        webhooks.signature_v3(SECRET, "POST", URI, BODY, TIMESTAMP)
        == "K36dawei4A+QBNolUOqo7s91KQDWQ5MXZ/QufNYuk/Y="
    )
    webhooks.verify(v3_request(), secret=SECRET, now=NOW)


def test_v2_published_vectors_verify_for_post_and_get():
    post = "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383"
    get = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
    webhooks.verify(legacy_request(post, version="v2"), secret=SECRET, now=NOW)
    webhooks.verify(legacy_request(get, version="v2", method="GET", body=b""), secret=SECRET, now=NOW)


def test_v1_published_vectors_verify_for_the_example_body_and_the_event_array():
    webhooks.verify(
        legacy_request("69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750", version="v1"),
        secret=SECRET,
        now=NOW,
    )
    events = legacy_request(
        "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de", version="v1", body=EVENTS
    )
    webhooks.verify(events, secret=SECRET, now=NOW)


def test_the_client_secret_in_config_is_the_signing_secret():
    webhooks.verify(v3_request(), secret="", now=NOW, config={"client_secret": SECRET})


@pytest.mark.parametrize(
    ("request_", "secret", "now"),
    [
        (v3_request(body=BODY + b" "), SECRET, NOW),  # tampered body
        (v3_request(), "wrong-secret", NOW),  # wrong secret
        (v3_request(), SECRET, NOW + 300),  # five minutes late
        (v3_request(timestamp="1693657560001"), SECRET, NOW),  # timestamp altered after signing
        (v3_request(url=URI + "?x=1"), SECRET, NOW),  # a different URL
        (v3_request(), "", NOW),  # no secret: fail closed
        (v3_request(timestamp=""), SECRET, NOW),  # no timestamp
        (
            legacy_request(
                "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750",
                version="v1",
                body=BODY + b"x",
            ),
            SECRET,
            NOW,
        ),  # tampered v1 body
        (
            legacy_request(
                "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383", version="v2", method="GET"
            ),
            SECRET,
            NOW,
        ),  # v2 signed for POST, replayed as GET
        (WebhookRequest(method="POST", url=URI, headers={}, body=BODY), SECRET, NOW),  # unsigned
    ],
)
def test_bad_requests_are_refused(request_, secret, now):
    with pytest.raises(SignatureInvalid):
        webhooks.verify(request_, secret=secret, now=now)


def test_v3_uri_is_checked_with_the_listed_escapes_decoded():
    signed_uri = "https://hooks.example.com/in/hubspot/1/?a=b:c@d"
    signature = webhooks.signature_v3(SECRET, "POST", signed_uri, BODY, TIMESTAMP)
    received = WebhookRequest(
        method="POST",
        url="https://hooks.example.com/in/hubspot/1/?a=b%3Ac%40d",
        headers={"x-hubspot-signature-v3": signature, "x-hubspot-request-timestamp": TIMESTAMP},
        body=BODY,
    )
    webhooks.verify(received, secret=SECRET, now=NOW)
    assert webhooks.decode_uri("/a%3a%2F%20%25") == "/a:/%20%25"  # only the listed escapes


def test_parse_turns_each_event_into_one_webhook_event():
    body = json.dumps(
        [
            {
                "eventId": 1,
                "subscriptionType": "contact.creation",
                "objectId": 123,
                "occurredAt": 1564113600000,
            },
            {
                "eventId": 2,
                "subscriptionType": "company.propertyChange",
                "objectId": 9,
                "occurredAt": 1564113600001,
                "propertyName": "name",
                "propertyValue": "Acme",
            },
            {"eventId": 3, "subscriptionType": "deal.deletion", "objectId": 7, "occurredAt": 1564113600002},
            {"eventId": 4, "subscriptionType": "contact.privacyDeletion", "objectId": 5, "occurredAt": 1},
            {"eventId": 5, "subscriptionType": "contact.merge", "objectId": 6, "occurredAt": 1},
            {"eventId": 6, "subscriptionType": "deal.restore", "objectId": 8, "occurredAt": 1},
            {"eventId": 7, "subscriptionType": "ticket.creation", "objectId": 1, "occurredAt": 1},
        ]
    ).encode()
    events = webhooks.parse(WebhookRequest(method="POST", url=URI, headers={}, body=body))
    summary = [(e.event_id, e.entity, e.remote_id, e.action) for e in events]
    assert summary == [
        ("1", "contact", "123", "created"),
        ("2", "company", "9", "updated"),
        ("3", "deal", "7", "deleted"),
        ("4", "contact", "5", "deleted"),
        ("5", "contact", "6", "merged"),
        ("6", "deal", "8", "restored"),
    ]
    assert events[0].occurred_at.isoformat() == "2019-07-26T04:00:00+00:00"
    assert events[0].record is None
    assert events[1].raw["propertyValue"] == "Acme"
