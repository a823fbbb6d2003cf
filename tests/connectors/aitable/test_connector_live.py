"""AITableConnector over real HTTP against the emulator: the wizard's first connection test, made
before any datasheet is picked, and the datasheets it then offers (providers.md §4)."""

from connectors.aitable.connector import AITableConnector
from connectors.aitable.emulator.schema import (
    ACTIVITIES_ID,
    AUDIT_ID,
    COMPANIES_ID,
    DEALS_ID,
    LEADS_ID,
    ORDERS_ID,
    SPACE_ID,
)
from connectors.capabilities import RemoteTable


def connector(config, **changes) -> AITableConnector:
    return AITableConnector({**config, **changes}, integration_id="aitable-live")


def test_a_token_and_space_connect_before_any_datasheet_is_picked(config):
    fresh = connector({k: v for k, v in config.items() if k not in ("datasheets", "onboarding")})
    result = fresh.test_connection()
    assert result.ok, result.message
    assert result.details["space_nodes"] == 6
    assert fresh.tables_list() == [
        RemoteTable(LEADS_ID, "Leads"),
        RemoteTable(ORDERS_ID, "Orders"),
        RemoteTable(AUDIT_ID, "Audit Results"),
        RemoteTable(COMPANIES_ID, "Companies"),
        RemoteTable(DEALS_ID, "Deals"),
        RemoteTable(ACTIVITIES_ID, "Activities"),
    ]


def test_a_token_alone_connects_by_listing_its_spaces(config):
    bare = {k: v for k, v in config.items() if k in ("base_url", "api_token")}
    result = connector(bare).test_connection()
    assert result.ok and result.details["spaces"] == [SPACE_ID], result.message


def test_an_unknown_space_or_datasheet_fails_clearly(config):
    result = connector(config, space_id="spcNoSuchSpace1", datasheets={}).test_connection()
    assert not result.ok and result.message
    result = connector(config, datasheets={"deal": "dstNoSuchSheet1"}).test_connection()
    assert not result.ok and "dstNoSuchSheet1" in result.message


def test_every_configured_datasheet_is_read_one_row_deep(at, config):
    at.seed("leads", 3, None)
    result = connector(config).test_connection()
    assert result.ok, result.message
    assert {k: v for k, v in result.details.items() if k.endswith("_rows")} == {
        "contact_rows": 3,
        "company_rows": 0,
        "deal_rows": 0,
        "activity_rows": 0,
    }
