"""What each integration's provider says its fields are (``sync.fields`` keeps it fresh)."""

from django.db import models

from integrations.models import Integration
from sync.models.engine import ENTITY_CHOICES

__all__ = ["DiscoveredFields"]


class DiscoveredFields(models.Model):
    """The provider's field list for one integration × entity, as ``Connector.discover_fields``
    last answered it (``RemoteField.to_dict()`` each), so mappings can name fields by label and
    pick transforms by type without asking the provider on every record.

    A failed refresh stores its ``error`` and keeps the fields of the last good one: a provider
    outage must not make mapped fields look unknown.
    """

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="discovered_fields")
    entity = models.CharField(max_length=20, choices=ENTITY_CHOICES)
    fields = models.JSONField(default=list)
    refreshed_at = models.DateTimeField(null=True, blank=True, help_text="The last refresh that succeeded")
    error = models.TextField(
        blank=True, default="", help_text="Why the last refresh failed; blank if it did not"
    )
    error_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "discovered fields"
        ordering = ["integration", "entity"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "entity"], name="uniq_discovered_fields"),
        ]

    def __str__(self) -> str:
        return f"{self.integration_id} {self.entity}: {len(self.fields or [])} fields"
