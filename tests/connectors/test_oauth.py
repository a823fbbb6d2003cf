"""OAuth: PKCE, the authorize URL, and refresh under the integration's lease (one refresh, no lost token)."""

import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.db import connection

from connectors.base import OAuthSpec, ReauthorizationNeeded, Tokens
from connectors.oauth import OAuthAuth, OAuthClient, code_challenge
from integrations.models import Integration
from integrations.tokens import IntegrationTokenStore
from tests.factories import IntegrationFactory

SPEC = OAuthSpec(
    authorize_url="https://auth.example.test/authorize",
    token_url="https://auth.example.test/token",
    scopes=("crm.read", "crm.write"),
)


def oauth_client() -> OAuthClient:
    return OAuthClient(SPEC, client_id="cid", client_secret="csecret")


def test_code_challenge_matches_rfc_7636_example():
    assert (
        code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_authorize_url_carries_state_scopes_and_pkce():
    url = oauth_client().authorize_url(state="st", redirect_uri="https://app.test/cb", verifier="v" * 50)
    query = parse_qs(urlsplit(url).query)
    assert query["state"] == ["st"] and query["client_id"] == ["cid"]
    assert query["scope"] == ["crm.read crm.write"] and query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"] == [code_challenge("v" * 50)]


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_concurrent_workers_refresh_once_and_keep_the_rotated_refresh_token():
    integration = IntegrationFactory(
        tokens=Tokens(access_token="expired", refresh_token="rt-1", expires_at=time.time() - 10).to_dict()
    )
    calls = []

    def token_endpoint(request):
        calls.append(parse_qs(request.body))
        time.sleep(0.3)  # slow provider: the other workers pile up on the lease meanwhile
        return 200, {}, '{"access_token": "fresh", "refresh_token": "rt-2", "expires_in": 1800}'

    responses.add_callback(responses.POST, SPEC.token_url, callback=token_endpoint)
    seen, errors = [], []

    def worker():
        try:
            seen.append(
                OAuthAuth(IntegrationTokenStore(integration.pk), oauth_client()).headers()["Authorization"]
            )
        except Exception as exc:  # noqa: BLE001 (collected and asserted below)
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection, or it outlives the test

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(calls) == 1 and calls[0]["refresh_token"] == ["rt-1"]
    assert seen == ["Bearer fresh"] * 4
    stored = Integration.objects.get(pk=integration.pk).tokens
    assert (stored["access_token"], stored["refresh_token"]) == ("fresh", "rt-2")


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_a_refused_refresh_marks_the_integration_for_reauthorization():
    integration = IntegrationFactory(
        status="active",
        tokens=Tokens(access_token="old", refresh_token="rt", expires_at=time.time() - 1).to_dict(),
    )
    responses.post(
        SPEC.token_url,
        status=400,
        json={"error": "invalid_grant", "error_description": "refresh token is invalid"},
    )
    with pytest.raises(ReauthorizationNeeded):
        OAuthAuth(IntegrationTokenStore(integration.pk), oauth_client()).headers()
    integration.refresh_from_db()
    assert integration.reauthorization_needed and integration.status == "error"
    assert (
        "Reauthorization needed" in integration.last_error
        and "rt" not in integration.last_error.split(":")[-1]
    )


@responses.activate
def test_a_provider_that_does_not_rotate_keeps_the_old_refresh_token():
    responses.post(SPEC.token_url, json={"access_token": "a2", "instance_url": "https://x.test"})
    fresh = oauth_client().refresh(
        Tokens(access_token="a1", refresh_token="keep-me", extra={"instance_url": "https://x.test"})
    )
    assert fresh.refresh_token == "keep-me" and fresh.extra["instance_url"] == "https://x.test"
