"""A staff user who may only look (view permissions) cannot act: configuring, testing, pausing,
syncing, refreshing fields, retrying records and resolving conflicts all need the change permission
(403), while their pages still open. Staff with it act on their own sub-accounts only (404 elsewhere)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from integrations.models import Membership
from sync.models import Conflict, SyncRun
from tests.factories import IntegrationFactory, SubAccountFactory

pytestmark = pytest.mark.django_db


def staff(*, codename_prefix: str):
    user = get_user_model().objects.create_user("looker", "looker@example.com", "pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(codename__startswith=codename_prefix).exclude(
            content_type__app_label="auth"
        )
    )
    return user


@pytest.fixture
def own():
    sub = SubAccountFactory(slug="own")
    return IntegrationFactory(subaccount=sub, status="active")


def as_member(client, user, integration):
    Membership.objects.create(user=user, subaccount=integration.subaccount)
    client.force_login(user)
    return client


ACTIONS = [
    ("get", "admin:integrations_configure", {}),
    ("post", "admin:integrations_test", {}),
    ("post", "admin:integrations_transition", {"action": "pause"}),
    ("post", "admin:sync_request", {}),
    ("post", "admin:sync_fields_refresh", {}),
]


def url_for(name: str, integration, extra: dict) -> str:
    key = "integration_id" if name == "admin:sync_request" else "pk"
    return reverse(name, kwargs={key: integration.pk, **extra})


@pytest.mark.parametrize(("method", "name", "extra"), ACTIONS)
def test_a_view_only_member_is_refused_every_action(client, own, method, name, extra):
    client = as_member(client, staff(codename_prefix="view_"), own)

    response = getattr(client, method)(url_for(name, own, extra))

    assert response.status_code == 403
    own.refresh_from_db()
    assert own.status == "active" and not SyncRun.objects.exists()


def test_a_view_only_member_still_sees_the_integration_page(client, own):
    client = as_member(client, staff(codename_prefix="view_"), own)

    assert client.get(reverse("admin:integrations_integration_change", args=[own.pk])).status_code == 200


def test_a_member_who_may_change_pauses_their_own_and_not_anothers(client, own):
    client = as_member(client, staff(codename_prefix="change_"), own)
    other = IntegrationFactory(subaccount=SubAccountFactory(slug="other"), status="active")

    mine = client.post(url_for("admin:integrations_transition", own, {"action": "pause"}))
    theirs = client.post(url_for("admin:integrations_transition", other, {"action": "pause"}))

    own.refresh_from_db()
    other.refresh_from_db()
    assert (mine.status_code, own.status) == (302, "paused")
    assert (theirs.status_code, other.status) == (404, "active")


def test_the_bulk_conflict_actions_need_the_change_permission(client, own):
    client = as_member(client, staff(codename_prefix="view_"), own)
    Conflict.objects.create(
        subaccount=own.subaccount,
        integration=own,
        entity="contact",
        local_id=1,
        field="email",
        remote_id="r1",
    )

    page = client.get(reverse("admin:sync_conflict_changelist"))

    assert page.status_code == 200
    assert "keep_local" not in page.content.decode() and "take_remote" not in page.content.decode()
