"""Catalog cards say where the chosen sub-account stands with each template; Learn more renders the
setup instructions safely; empty changelists say what to do next."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from integrations.models import IntegrationTemplate, Membership
from tests.factories import IntegrationFactory

CATALOG = "/admin/integrations/integration/catalog/"


@pytest.fixture
def operator(db, client):
    client.force_login(get_user_model().objects.create_superuser("op", "op@example.com", "pw-123456789"))
    return client


def card_badges(html: str, key: str) -> str:
    card = html.split(f'data-key="{key}"', 1)[1].split('class="catalog-actions"', 1)[0]
    return card.split("data-state>", 1)[1]


def test_cards_count_each_status_of_the_chosen_sub_account(catalog, operator, subaccount, other_subaccount):
    for status in ("active", "active", "error"):
        IntegrationFactory(subaccount=subaccount, status=status)
    IntegrationFactory(subaccount=other_subaccount, status="paused")
    IntegrationFactory(subaccount=other_subaccount, status="active", template=_template("pipedrive"))

    acme = operator.get(f"{CATALOG}?subaccount={subaccount.pk}").content.decode()
    assert "1 error" in card_badges(acme, "hubspot") and "2 active" in card_badges(acme, "hubspot")
    assert "Not configured" in card_badges(acme, "pipedrive")
    assert "Status for <strong>Acme</strong>" in acme

    globex = operator.get(f"{CATALOG}?subaccount={other_subaccount.pk}").content.decode()
    assert ">Paused<" in card_badges(globex, "hubspot")  # one integration: its status alone
    assert ">Active<" in card_badges(globex, "pipedrive")

    everyone = operator.get(CATALOG).content.decode()  # several sub-accounts, none chosen
    assert "all 2 sub-accounts you manage" in everyone
    hubspot = card_badges(everyone, "hubspot")
    assert "1 error" in hubspot and "2 active" in hubspot and "1 paused" in hubspot


def _template(key: str) -> IntegrationTemplate:
    return IntegrationTemplate.objects.get(key=key)


def test_a_staff_user_with_one_sub_account_sees_its_state_and_never_another(
    catalog, client, subaccount, other_subaccount
):
    IntegrationFactory(subaccount=other_subaccount, status="error")
    user = get_user_model().objects.create_user("ana", "a@example.com", "pw-123456789", is_staff=True)
    Membership.objects.create(user=user, subaccount=subaccount)
    client.force_login(user)
    html = client.get(CATALOG).content.decode()
    assert "Status for <strong>Acme</strong>" in html and "Globex" not in html
    assert "Not configured" in card_badges(html, "hubspot")
    assert client.get(f"{CATALOG}?subaccount={other_subaccount.pk}").status_code == 404
    detail = reverse("admin:integrations_catalog_detail", args=["hubspot"])
    assert client.get(f"{detail}?subaccount={other_subaccount.pk}").status_code == 404


def test_learn_more_renders_the_instructions_as_sanitised_markdown(catalog, operator, subaccount):
    IntegrationTemplate.objects.filter(key="pipedrive").update(
        setup_instructions="## Steps\n1. Open **Settings**\n\n<script>alert(1)</script>"
        "[click](javascript:alert(2))"
    )
    html = operator.get(reverse("admin:integrations_catalog_detail", args=["pipedrive"])).content.decode()
    assert "<h2>Steps</h2>" in html and "<strong>Settings</strong>" in html
    assert "<script>alert" not in html and "javascript:alert" not in html
    assert "Basic auth" in html or "API key" in html  # the auth type
    assert f"{reverse('admin:integrations_wizard')}?template=pipedrive" in html  # Set up
    assert "Not configured" in html


def test_learn_more_is_404_for_unknown_and_retired_templates(catalog, operator):
    IntegrationTemplate.objects.filter(key="zoho").update(is_active=False)
    for key in ("zoho", "no-such-thing"):
        assert operator.get(reverse("admin:integrations_catalog_detail", args=[key])).status_code == 404


@pytest.mark.parametrize(
    ("url", "says", "action"),
    [
        ("/admin/integrations/integration/", "No integrations yet", CATALOG),
        ("/admin/sync/conflict/", "No conflicts waiting", ""),
        ("/admin/sync/contact/", "No contacts yet", CATALOG),
        ("/admin/webhooks/inboundevent/", "No webhook events yet", ""),
    ],
)
def test_an_empty_list_says_what_to_do_next(catalog, operator, url, says, action):
    html = operator.get(url).content.decode()
    assert 'id="empty-state"' in html and says in html
    assert action in html
    searched = operator.get(url + "?q=nothing").content.decode()
    assert 'id="empty-state"' not in searched  # a search that matches nothing is not "empty"


def test_a_list_with_rows_shows_them_with_status_badges(catalog, operator, subaccount):
    IntegrationFactory(subaccount=subaccount, name="Acme HubSpot", status="error", health="failing")
    html = operator.get("/admin/integrations/integration/").content.decode()
    assert 'id="empty-state"' not in html and "Acme HubSpot" in html
    assert 'class="badge badge-error badge-error"' in html
    assert 'class="badge badge-failing badge-error"' in html
