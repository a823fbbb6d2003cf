"""The only module that knows every provider: registry key → dotted path, imported on first use."""

import functools
import importlib
from types import ModuleType

from django.utils.module_loading import import_string

from connectors.base import Connector

CONNECTORS: dict[str, str] = {
    "hubspot": "connectors.hubspot.connector.HubSpotConnector",
    "salesforce": "connectors.salesforce.connector.SalesforceConnector",
    "pipedrive": "connectors.pipedrive.connector.PipedriveConnector",
    "zoho": "connectors.zoho.connector.ZohoConnector",
    "aitable": "connectors.aitable.connector.AITableConnector",
    "enrichment_http": "connectors.enrichment_http.connector.EnrichmentHttpConnector",
    "missionx": "connectors.missionx.connector.MissionXConnector",
    "alacarte": "connectors.alacarte.connector.AlaCarteConnector",
    "gohighlevel": "connectors.gohighlevel.connector.GoHighLevelConnector",
    "facebook_leads": "connectors.facebook_leads.connector.FacebookLeadsConnector",
    "google_analytics": "connectors.google_analytics.connector.GoogleAnalyticsConnector",
}

# Catalog entries whose connectors are on the roadmap: shown as "coming soon", never chosen.
PLANNED: frozenset[str] = frozenset()

# Emulator modules: each exposes ``emulator`` (a connectors.sandbox.emulator.Emulator).
EMULATORS: dict[str, str] = {
    "hubspot": "connectors.hubspot.emulator",
    "salesforce": "connectors.salesforce.emulator",
    "pipedrive": "connectors.pipedrive.emulator",
    "zoho": "connectors.zoho.emulator",
    "enrichment_http": "connectors.enrichment_http.emulator",
    "aitable": "connectors.aitable.emulator",
    "missionx": "connectors.missionx.emulator",
    "alacarte": "connectors.alacarte.emulator",
    "gohighlevel": "connectors.gohighlevel.emulator",
    "facebook_leads": "connectors.facebook_leads.emulator",
    "google_analytics": "connectors.google_analytics.emulator",
}


class UnknownConnector(LookupError):
    pass


def is_registered(key: str) -> bool:
    return key in CONNECTORS


def connector_offers(key: str, capability: type) -> bool:
    """Whether ``key``'s connector is registered and offers ``capability`` (a class of
    ``connectors.capabilities``), without making one."""
    return key in CONNECTORS and issubclass(connector_class(key), capability)


@functools.cache
def connector_class(key: str) -> type[Connector]:
    if key not in CONNECTORS:
        raise UnknownConnector(f"No connector {key!r}: add it to CONNECTORS in connectors/registry.py")
    return _imported(CONNECTORS[key])


@functools.cache
def _imported(dotted_path: str) -> type[Connector]:
    """Imported once per path: the webhook receiver looks its connector up on every request."""
    return import_string(dotted_path)


@functools.cache
def emulator_module(key: str) -> ModuleType:
    if key not in EMULATORS:
        raise UnknownConnector(f"No emulator {key!r}: add it to EMULATORS in connectors/registry.py")
    return importlib.import_module(EMULATORS[key])


def default_mappings(key: str) -> dict:
    """The connector's DEFAULT_MAPPINGS (its package's mappings.py); none for a connector that syncs
    no entity (an enrichment provider has no mappings module)."""
    if not connector_class(key).entities:
        return {}
    package = connector_class(key).__module__.rsplit(".", 1)[0]
    return importlib.import_module(f"{package}.mappings").DEFAULT_MAPPINGS
