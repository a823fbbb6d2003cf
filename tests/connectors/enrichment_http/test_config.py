"""enrichment_http configuration: the connector's own checks and the catalog template end to end."""

import pytest

from connectors.base import ConfigError
from connectors.enrichment_http.connector import EnrichmentHttpConnector
from integrations.services import integration_test
from tests.sandbox import sandbox_integration

GOOD = {"base_url": "http://localhost:8000/sandbox/enrichment", "api_key": "enr-0123456789"}


def test_a_good_config_passes_and_sizes_the_batches():
    EnrichmentHttpConnector.validate_config({**GOOD, "timeout_s": 5, "max_batch": 25})
    assert EnrichmentHttpConnector({**GOOD, "max_batch": 25}).batch_size == 25
    assert EnrichmentHttpConnector(GOOD).batch_size == 50


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"base_url": ""}, "base_url", "base URL"),
        ({"base_url": "ftp://enrich.example.com"}, "base_url", r"an http\(s\) URL"),
        ({"api_key": "short"}, "api_key", "at least 8"),
        ({"timeout_s": 0}, "timeout_s", "between 1 and 120"),
        ({"timeout_s": "soon"}, "timeout_s", "must be a number"),
        ({"max_batch": 0}, "max_batch", "1 to 1000"),
        ({"max_batch": 2.5}, "max_batch", "whole number"),
        ({"max_batch": 5000}, "max_batch", "1 to 1000"),
    ],
)
def test_a_bad_config_names_its_field(change, field, message):
    with pytest.raises(ConfigError, match=message) as bad:
        EnrichmentHttpConnector.validate_config({**GOOD, **change})
    assert bad.value.field == field


def test_connection_without_a_key_is_a_message_not_an_exception():
    result = EnrichmentHttpConnector({"base_url": GOOD["base_url"]}).test_connection()
    assert not result.ok and result.message == "enter the API key"


def test_the_catalog_template_creates_a_working_integration(catalog, subaccount, enrichment, sandbox_url):
    integration = sandbox_integration(subaccount, "enrichment_http", sandbox_url)
    assert integration.template.is_available and integration.template.capabilities["enriches"] is True
    assert integration.config["max_batch"] == 50 and integration.config["timeout_s"] == 10
    result = integration_test(integration=integration, actor="test")
    assert result.ok, result.message
