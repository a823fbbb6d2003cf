"""Zoho's official Python SDK (zohocrmsdk8-0) against the emulator: it refreshes its token at the
emulator's accounts endpoint, reads field metadata, and reads and writes records the connector wrote.

The only change from a real deployment is the environment: ``DataCenter.Environment(url, accounts_url,
file_upload_url)`` is the SDK's public constructor for a data centre, given the emulator's URLs instead
of ``USDataCenter.PRODUCTION()`` — no patching. The SDK calls the v8 paths.
"""

from __future__ import annotations

import pytest
from zohocrmsdk.src.com.zoho.api.authenticator.oauth_token import OAuthToken
from zohocrmsdk.src.com.zoho.api.authenticator.store.file_store import FileStore
from zohocrmsdk.src.com.zoho.crm.api.dc.data_center import DataCenter
from zohocrmsdk.src.com.zoho.crm.api.header_map import HeaderMap
from zohocrmsdk.src.com.zoho.crm.api.initializer import Initializer
from zohocrmsdk.src.com.zoho.crm.api.parameter_map import ParameterMap
from zohocrmsdk.src.com.zoho.crm.api.record import (
    ActionWrapper,
    BodyWrapper,
    GetRecordsParam,
    Record,
    RecordOperations,
    ResponseWrapper,
    SuccessResponse,
)
from zohocrmsdk.src.com.zoho.crm.api.sdk_config import SDKConfig

from connectors.base import RELATIONS_KEY
from connectors.sandbox.models import SandboxToken

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sdk(connected, tmp_path):
    """The SDK initialised against the emulator with the integration's client and refresh token."""
    config, tokens = connected
    root = config["base_url"]
    environment = DataCenter.Environment(root, f"{root}/oauth/v2/token", root)
    token = OAuthToken(
        client_id=config["client_id"],
        client_secret=config["client_secret"],
        refresh_token=tokens.refresh_token,
    )
    Initializer.initialize(
        environment=environment,
        token=token,
        store=FileStore(str(tmp_path / "sdk_tokens.txt")),
        sdk_config=SDKConfig(auto_refresh_fields=False, pick_list_validation=False),
        resource_path=str(tmp_path),
    )
    return Initializer.get_initializer()


def read_contacts(fields: str) -> list[Record]:
    params = ParameterMap()
    params.add(GetRecordsParam.fields, fields)
    response = RecordOperations("Contacts").get_records(params, HeaderMap())
    assert response is not None and response.get_status_code() == 200, response and response.get_status_code()
    body = response.get_object()
    assert isinstance(body, ResponseWrapper), body
    return body.get_data()


def test_the_sdk_reads_what_the_connector_wrote(sdk, connector, zoho):
    [company] = connector.create("company", [zoho.sample_record("company", 1)])
    link = {RELATIONS_KEY: {"company_id": {"add": [company.remote_id], "remove": []}}}
    made = connector.create("contact", [{**zoho.sample_record("contact", i), **link} for i in range(3)])
    assert all(r.ok for r in made)

    records = read_contacts("Last_Name,First_Name,Email,Account_Name")
    by_id = {str(r.get_id()): r for r in records}
    assert set(by_id) == {r.remote_id for r in made}
    first = by_id[made[0].remote_id]
    assert first.get_key_value("Email") == "sample0@example.com"
    assert first.get_key_value("First_Name") == "Sample0"
    account = first.get_key_value("Account_Name")
    assert str(account.get_id()) == company.remote_id
    # The SDK got its own access token from the refresh token, at the emulator's accounts endpoint.
    assert SandboxToken.objects.filter(provider="zoho").count() == 2


def test_the_connector_reads_what_the_sdk_wrote(sdk, connector):
    record = Record()
    record.add_key_value("Last_Name", "Lovelace")
    record.add_key_value("First_Name", "Ada")
    record.add_key_value("Email", "ada@example.com")
    body = BodyWrapper()
    body.set_data([record])
    response = RecordOperations("Contacts").create_records(body, HeaderMap())
    assert response.get_status_code() == 201
    wrapper = response.get_object()
    assert isinstance(wrapper, ActionWrapper)
    [answer] = wrapper.get_data()
    assert isinstance(answer, SuccessResponse), answer
    remote_id = str(answer.get_details()["id"])

    [read] = connector.get("contact", [remote_id])
    assert read.fields["Email"] == "ada@example.com" and read.fields["Last_Name"] == "Lovelace"
