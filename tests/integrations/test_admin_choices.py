"""The integration page's *Choices*: the wizard's setup questions asked again later, read live
from the provider (GoHighLevel's pipelines and stages, on its emulator), saved into the config;
scoped to the sub-accounts a staff user manages, and absent for providers that ask none."""

import pytest
from django.contrib.auth import get_user_model

from connectors.gohighlevel.emulator import emulator as ghl_emulator
from connectors.gohighlevel.emulator.store import (
    ONBOARDING_PIPELINE_ID,
    ONBOARDING_STAGES,
    PIPELINE_ID,
    STAGES,
)
from integrations.models import Membership
from tests.factories import IntegrationFactory
from tests.sandbox import sandbox_integration

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ghl(catalog, subaccount, sandbox_url):
    ghl_emulator.reset()
    yield sandbox_integration(subaccount, "gohighlevel", sandbox_url)
    ghl_emulator.reset()


@pytest.fixture
def staff(client, subaccount):
    user = get_user_model().objects.create_user("staff", "s@example.com", "pw-123456789", is_staff=True)
    user.user_permissions.set(
        user.user_permissions.model.objects.filter(content_type__app_label="integrations")
    )
    Membership.objects.create(user=user, subaccount=subaccount)
    client.force_login(user)
    return client


def test_the_page_links_to_choices_and_asks_them_with_the_current_answers(staff, ghl):
    page = staff.get(f"/admin/integrations/integration/{ghl.pk}/change/").content.decode()
    assert f"/admin/integrations/integration/{ghl.pk}/choices/" in page
    html = staff.get(f"/admin/integrations/integration/{ghl.pk}/choices/").content.decode()
    assert "Pipeline for new deals" in html and "Onboarding: Won" in html
    assert f'<option value="{PIPELINE_ID}" selected>' in html


def test_saving_new_choices_updates_the_config(staff, ghl):
    stage = {name.lower(): stage_id for stage_id, name in ONBOARDING_STAGES}
    answer = {
        "q__pipelineId": ONBOARDING_PIPELINE_ID,
        **{f"q__stage.{name}": stage[name] for name in ("contacted", "qualified", "won", "lost")},
        "q__stage.lead": "",
    }
    response = staff.post(f"/admin/integrations/integration/{ghl.pk}/choices/", answer)
    assert response.status_code == 302
    ghl.refresh_from_db()
    assert ghl.config["pipelineId"] == ONBOARDING_PIPELINE_ID
    assert ghl.config["stageMap"] == {name: stage[name] for name in ("contacted", "qualified", "won", "lost")}


def test_a_stage_of_another_pipeline_is_refused_on_the_page(staff, ghl):
    response = staff.post(
        f"/admin/integrations/integration/{ghl.pk}/choices/",
        {"q__pipelineId": ONBOARDING_PIPELINE_ID, "q__stage.won": STAGES[0][0]},
    )
    assert response.status_code == 200
    assert "errorlist" in response.content.decode() or "errornote" in response.content.decode()
    ghl.refresh_from_db()
    assert ghl.config.get("pipelineId") != ONBOARDING_PIPELINE_ID


def test_other_tenants_and_providers_without_choices_get_404(staff, ghl, other_subaccount):
    theirs = IntegrationFactory(subaccount=other_subaccount, template=ghl.template)
    assert staff.get(f"/admin/integrations/integration/{theirs.pk}/choices/").status_code == 404
    plain = IntegrationFactory(subaccount=ghl.subaccount)
    assert staff.get(f"/admin/integrations/integration/{plain.pk}/choices/").status_code == 404
    page = staff.get(f"/admin/integrations/integration/{plain.pk}/change/").content.decode()
    assert "/choices/" not in page
