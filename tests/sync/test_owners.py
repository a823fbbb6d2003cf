"""An integration's user mapping: platform owners go out as the CRM's user ids and come back as
owners (HubSpot emulator over HTTP), set through the API and the admin."""

import pytest
from django.urls import reverse

from connectors.registry import emulator_module
from sync.models import Contact
from sync.owners import OwnerMapInvalid, owner_map, owner_map_set
from tests.integrations.test_api import api_for
from tests.sync.helpers import remote_id_of, run_to_success

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hubspot(integration_for):
    emulator_module("hubspot").emulator.reset()
    return integration_for("hubspot")


def _remote(integration, contact) -> dict:
    remote = remote_id_of(integration, "contact", contact)
    return emulator_module("hubspot").emulator.records("contacts").get(remote_id=remote).data


def test_an_owner_goes_out_as_the_crm_user_and_comes_back_as_the_owner(hubspot, subaccount):
    owner_map_set(hubspot, {"alice@acme.com": "5101", "bob@acme.com": "5102"}, actor="test")
    ana = Contact.objects.create(subaccount=subaccount, email="ana@acme.com", owner_id="alice@acme.com")
    kim = Contact.objects.create(subaccount=subaccount, email="kim@acme.com", owner_id="carol@acme.com")
    run_to_success(hubspot, "full")
    assert _remote(hubspot, ana)["hubspot_owner_id"] == "5101"
    assert _remote(hubspot, kim)["hubspot_owner_id"] == "carol@acme.com"  # unmapped: as it is
    run_to_success(hubspot, "full")  # pulled back: the owner, not the CRM's id
    assert Contact.objects.get(pk=ana.pk).owner_id == "alice@acme.com"
    assert owner_map(hubspot) == {"alice@acme.com": "5101", "bob@acme.com": "5102"}


def test_one_crm_user_cannot_be_two_owners(hubspot):
    with pytest.raises(OwnerMapInvalid):
        owner_map_set(hubspot, {"a@acme.com": "1", "b@acme.com": "1"}, actor="test")
    with pytest.raises(OwnerMapInvalid):
        owner_map_set(hubspot, {"a@acme.com": " "}, actor="test")
    owner_map_set(hubspot, {"a@acme.com": "1"}, actor="test")
    owner_map_set(hubspot, {}, actor="test")
    assert owner_map(hubspot) == {}


def test_the_api_reads_and_writes_it_for_its_own_integrations_only(hubspot, subaccount, other_subaccount):
    api = api_for(subaccount)
    url = f"/api/v1/integrations/{hubspot.pk}/owners/"
    assert api.get(url).json() == {"owners": []}
    rows = [{"owner": "alice@acme.com", "remote_id": "5101"}]
    assert api.put(url, {"owners": rows}, format="json").json() == {"owners": rows}
    assert api.get(url).json() == {"owners": rows}
    twice = [{"owner": "a@acme.com", "remote_id": "1"}, {"owner": "b@acme.com", "remote_id": "1"}]
    answer = api.put(url, {"owners": twice}, format="json")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "owner_map_conflict"
    assert api.put(url, {"owners": [{"owner": "", "remote_id": "1"}]}, format="json").status_code == 400
    assert api_for(other_subaccount).get(url).status_code == 404


def test_the_admin_saves_it_from_the_integration_page(hubspot, admin_client):
    page = admin_client.get(reverse("admin:integrations_integration_change", args=[hubspot.pk]))
    assert b"Save owner mapping" in page.content
    url = reverse("admin:sync_owner_mapping", args=[hubspot.pk])
    admin_client.post(url, {"owner_map_text": "alice@acme.com = 5101\n\nbob@acme.com=5102\n"})
    assert owner_map(hubspot) == {"alice@acme.com": "5101", "bob@acme.com": "5102"}
    response = admin_client.post(url, {"owner_map_text": "just a name"}, follow=True)
    assert b"write it as owner = CRM user id" in response.content
    assert owner_map(hubspot) == {"alice@acme.com": "5101", "bob@acme.com": "5102"}
