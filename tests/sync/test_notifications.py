"""Failure notifications: one e-mail per incident to the sub-account's members and extra addresses."""

import pytest
from django.contrib.auth import get_user_model

from integrations.models import Integration, Membership
from integrations.status import integration_mark_error, integration_set_status
from sync import hooks
from sync.models import SyncRun
from tests.factories import IntegrationFactory

TOKEN = "pat-na1-do-not-mail-me"


@pytest.fixture
def integration(subaccount, other_subaccount):
    users = get_user_model().objects
    Membership.objects.create(user=users.create_user("ana", "Ana@Example.com"), subaccount=subaccount)
    Membership.objects.create(user=users.create_user("bo", ""), subaccount=subaccount)  # no address
    Membership.objects.create(user=users.create_user("eve", "eve@globex.com"), subaccount=other_subaccount)
    subaccount.notification_emails = "ops@example.com,\noncall@example.com"
    subaccount.save()
    return IntegrationFactory(
        subaccount=subaccount,
        name="Acme HubSpot",
        status="active",
        config={"access_token": TOKEN},
        tokens={"access_token": "oauth-secret", "refresh_token": "refresh-secret"},
    )


def finish(integration: Integration, status: str, error: str = "") -> SyncRun:
    """A run reaching its final status, announced as sync.runs announces it."""
    run = SyncRun.objects.create(
        subaccount=integration.subaccount, integration=integration, kind="delta", status=status, error=error
    )
    hooks.sync_run_finished.send(sender=SyncRun, run=run)
    return run


def test_the_first_failure_mails_everyone_once_and_later_ones_nothing(
    integration, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        integration_mark_error(integration=integration, message="HubSpot refused the token: reconnect")
        finish(integration, "failed", "HubSpot answered 500")
        integration_mark_error(integration=integration, message="again")

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert sorted(mail.to) == ["ana@example.com", "oncall@example.com", "ops@example.com"]
    assert "Acme HubSpot" in mail.subject and "HubSpot refused the token: reconnect" in mail.body
    assert not any(secret in mail.body + mail.subject for secret in (TOKEN, "oauth-secret", "refresh-secret"))
    stored = Integration.objects.get(pk=integration.pk)
    assert stored.incident_opened_at is not None and stored.incident_notified_at is not None


def test_a_successful_run_while_active_closes_the_incident_and_the_next_failure_mails_again(
    integration, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        finish(integration, "failed", "provider unreachable")
        finish(integration, "partial")  # not healthy yet
        finish(integration, "failed", "still unreachable")
    assert len(mailoutbox) == 1 and "sync run" in mailoutbox[0].body

    with django_capture_on_commit_callbacks(execute=True):
        finish(integration, "succeeded")
        finish(integration, "failed", "down once more")
    assert len(mailoutbox) == 2 and "down once more" in mailoutbox[1].body


def test_a_success_while_in_error_does_not_close_the_incident(
    integration, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        integration_mark_error(integration=integration, message="refused")
        finish(integration, "succeeded")  # still in error: not healthy
        finish(integration, "failed", "again")
        integration_set_status(integration=integration, status="active", actor="test")
        finish(integration, "succeeded")
        integration_mark_error(integration=integration, message="refused once more")
    assert [("refused once more" in m.body, "refused" in m.body) for m in mailoutbox] == [
        (False, True),
        (True, True),
    ]


def test_reauthorization_is_named_in_the_mail(integration, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        integration_mark_error(integration=integration, message="token revoked", reauthorize=True)
    assert len(mailoutbox) == 1 and "reauthoriz" in mailoutbox[0].body


def test_pausing_is_not_an_incident(integration, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        integration_set_status(integration=integration, status="paused", actor="test")
    assert mailoutbox == [] and Integration.objects.get(pk=integration.pk).incident_opened_at is None
