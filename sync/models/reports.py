"""Daily figures read from providers that report them (``sync.reports``): ad spend and leads per
campaign, web sessions and conversions per source. The reporting page charts them."""

from django.db import models

from integrations.models import Integration, SubAccount

__all__ = ["DailyReport"]


class DailyReport(models.Model):
    """One day's figures for one combination of dimensions, as ``ReportSource.report_rows`` gave
    them. Re-reading a day replaces its rows (recent days keep changing at the provider)."""

    subaccount = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="daily_reports")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="daily_reports")
    kind = models.CharField(max_length=40, help_text="ad_insights, web_traffic, …")
    day = models.DateField()
    key = models.CharField(max_length=255, help_text="Stable for the same dimensions")
    dimensions = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    read_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day", "kind", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "kind", "day", "key"], name="sync_dailyreport_uniq_row"
            )
        ]
        indexes = [models.Index(fields=["subaccount", "kind", "day"], name="sync_dailyreport_sub_kind_day")]

    def __str__(self) -> str:
        return f"{self.kind} {self.day} {self.key}"
