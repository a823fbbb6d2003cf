"""The enrichment and automation toggles in force for a record: the sub-account's defaults, with
the integration it arrived through overriding any it sets (a blank override follows the default)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from integrations.models import AUTOMATION_SETTINGS, Integration, SubAccount


@dataclass(frozen=True)
class AutomationSettings:
    auto_enrich: bool
    auto_score: bool
    auto_assign: bool
    auto_create_tasks: bool
    auto_create_deals: bool
    deal_threshold: int

    @property
    def anything(self) -> bool:
        """Whether a change needs an enrichment job at all."""
        return self.auto_enrich or self.auto_score or self.auto_assign

    def as_dict(self) -> dict[str, bool | int]:
        return {name: getattr(self, name) for name in AUTOMATION_SETTINGS}


def automation_settings_for(
    subaccount: SubAccount, integration: Integration | None = None
) -> AutomationSettings:
    values = {name: getattr(subaccount, name) for name in AUTOMATION_SETTINGS}
    if integration is not None:
        for name in AUTOMATION_SETTINGS:
            override = getattr(integration, name)
            if override is not None:
                values[name] = override
    return AutomationSettings(**values)


def automation_enabled_anywhere(subaccount: SubAccount) -> bool:
    """Whether the sub-account or any of its integrations turns enrichment, scoring or assignment on."""
    if automation_settings_for(subaccount).anything:
        return True
    switched_on = Q(auto_enrich=True) | Q(auto_score=True) | Q(auto_assign=True)
    return Integration.objects.filter(switched_on, subaccount=subaccount).exists()
