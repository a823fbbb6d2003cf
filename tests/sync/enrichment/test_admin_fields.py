"""The operator sees and sets up the enrichment fields: on the integration page (with a button that
creates and maps them) and in the wizard's review step (created on activation, or named as missing)."""

import pytest
from django.template import Context, Template
from django.urls import reverse

from connectors.registry import connector_class, emulator_module
from sync.models import FieldMapping

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hubspot(integration_for):
    emulator_module("hubspot").emulator.reset()
    return integration_for("hubspot")


def test_the_integration_page_shows_them_and_its_button_sets_them_up(hubspot, admin_client):
    page = admin_client.get(reverse("admin:integrations_integration_change", args=[hubspot.pk]))
    assert b"Create and map enrichment fields" in page.content
    assert b"Missing in the CRM" in page.content

    response = admin_client.post(
        reverse("admin:sync_enrichment_fields_setup", args=[hubspot.pk]), follow=True
    )
    text = response.content.decode()
    assert "18 enrichment fields created, 18 mapped" in text
    assert FieldMapping.objects.filter(integration=hubspot, local_field="enrichment:score").count() == 2
    page = admin_client.get(reverse("admin:integrations_integration_change", args=[hubspot.pk]))
    assert "contact: platform_score" in page.content.decode()


def _review(integration) -> str:
    return Template("{% load sync_tags %}{% enrichment_fields_review integration %}").render(
        Context({"integration": integration})
    )


def test_the_wizard_says_a_crm_that_creates_fields_gets_them_on_activation(hubspot):
    assert "created and mapped when the integration is activated" in _review(hubspot)


def test_the_wizard_names_the_fields_a_crm_cannot_create(integration_for, monkeypatch):
    monkeypatch.setattr(connector_class("pipedrive"), "creates_fields", False)  # as if its API could not
    emulator_module("pipedrive").emulator.reset()
    pipedrive = integration_for("pipedrive")
    html = _review(pipedrive)
    assert "cannot create fields" in html
    assert "Platform score" in html and "platform_signals" in html


def test_an_enrichment_provider_has_no_such_step(integration_for):
    assert _review(integration_for("enrichment_http")).strip() == ""
