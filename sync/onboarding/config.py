"""The onboarding flow's settings, read from the table-store integration's config (``onboarding``).

Which datasheets, which columns and which status value are the integration's own (the wizard and
the integration page edit them); nothing here is hard-coded to a provider: the lead integration is
any connector that is a ``TableStore``, the portal integration any ``PortalProvider``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.capabilities import PortalProvider, TableStore
from connectors.registry import connector_offers
from integrations.models import Integration

ORDER_COLUMNS = {
    "lead": "Lead",
    "lead_record_id": "Lead Record ID",
    "client_name": "Client Name",
    "email": "Email",
    "status": "Status",
    "portal": "Portal URL",
    "ordered_at": "Order Date",
}
AUDIT_COLUMNS = {
    "order": "Order",
    "file_id": "File ID",
    "file_name": "File Name",
    "upload_date": "Upload Date",
    "employees_processed": "Employees Processed",
    "corrections_made": "Corrections Made",
    "corrected_file": "Corrected File URL",
    "status": "Status",
}
LIVE = (Integration.Status.ACTIVE, Integration.Status.ERROR)


@dataclass(frozen=True)
class FlowConfig:
    leads_table: str
    orders_table: str
    audits_table: str
    portal_url_column: str = "Portal URL"
    status_column: str = "Status"
    won_value: str = "Won"
    portals_for_platform_leads: bool = False
    price_per_employee: Decimal = Decimal(0)
    currency: str = "USD"
    order_columns: Mapping[str, str] = field(default_factory=lambda: dict(ORDER_COLUMNS))
    audit_columns: Mapping[str, str] = field(default_factory=lambda: dict(AUDIT_COLUMNS))

    @classmethod
    def of(cls, integration: Integration) -> FlowConfig | None:
        """The flow's settings when ``integration`` runs it (a table store with the flow on)."""
        if not is_table_store(integration):
            return None
        config = integration.config or {}
        flow = config.get("onboarding") or {}
        leads = (config.get("datasheets") or {}).get("contact")
        if not flow.get("enabled") or not leads:
            return None
        return cls(
            leads_table=str(leads),
            orders_table=str(flow.get("orders_datasheet") or ""),
            audits_table=str(flow.get("audit_results_datasheet") or ""),
            portal_url_column=str(flow.get("portal_url_column") or "Portal URL"),
            status_column=str(flow.get("status_column") or "Status"),
            won_value=str(flow.get("won_value") or "Won"),
            portals_for_platform_leads=bool(flow.get("portals_for_platform_leads", False)),
            price_per_employee=_decimal(flow.get("price_per_employee")),
            currency=str(flow.get("currency") or "USD"),
            order_columns={**ORDER_COLUMNS, **(flow.get("order_columns") or {})},
            audit_columns={**AUDIT_COLUMNS, **(flow.get("audit_columns") or {})},
        )

    def is_won(self, fields: Mapping[str, Any]) -> bool:
        """Whether a lead row's status cell holds the won value (case and spaces aside)."""
        value = fields.get(self.status_column)
        if isinstance(value, list | tuple):  # a multi-select
            return any(_same(item, self.won_value) for item in value)
        return _same(value, self.won_value)


def _same(value: Any, expected: str) -> bool:
    return value is not None and str(value).strip().casefold() == expected.strip().casefold()


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def is_table_store(integration: Integration) -> bool:
    return connector_offers(integration.template.connector, TableStore)


def is_portal_provider(integration: Integration) -> bool:
    return connector_offers(integration.template.connector, PortalProvider)


def portal_integration_for(integration: Integration) -> Integration | None:
    """The live portal integration of the lead integration's sub-account (the oldest, when several)."""
    candidates = Integration.objects.filter(
        subaccount_id=integration.subaccount_id, status__in=LIVE
    ).select_related("template", "subaccount")
    return next((c for c in candidates.order_by("pk") if is_portal_provider(c)), None)


def flow_integrations(subaccount_id: int | None = None) -> list[Integration]:
    """Live integrations running the flow (of one sub-account, or all)."""
    rows = Integration.objects.filter(status__in=LIVE).select_related("template", "subaccount")
    if subaccount_id is not None:
        rows = rows.filter(subaccount_id=subaccount_id)
    return [integration for integration in rows if FlowConfig.of(integration) is not None]
