"""The providers' daily figures (``DailyReport``) and the per-sub-account lead reporting page:
leads per day by source, cost per lead per campaign, web sessions and conversions, lead → deal
conversion, as server-rendered charts (``sync.charts``)."""

from __future__ import annotations

from django.contrib import admin
from django.shortcuts import render
from django.urls import path, reverse

from integrations.admin_scope import ScopedReadOnlyAdmin, SubAccountScopeFilter, subaccount_chosen
from sync import charts
from sync.lead_reporting import LeadReport, lead_report
from sync.models import DailyReport

DAY_CHOICES = (7, 14, 30, 90)


def report_charts(report: LeadReport) -> dict[str, charts.Chart]:
    return {
        "leads_chart": charts.stacked_bars(report.days, report.leads_by_source),
        "cost_chart": charts.bars(
            [
                (row.name, row.cost_per_lead, f"{row.cost_per_lead:,.2f} {row.currency}".strip())
                for row in report.campaigns
                if row.cost_per_lead is not None
            ]
        ),
        "web_chart": charts.lines(
            report.days, {"Sessions": report.sessions, "Conversions": report.conversions}
        )
        if report.has_web
        else charts.Chart(),
        "conversion_chart": charts.bars(
            [
                (row.source, row.rate, f"{row.rate} % ({row.with_deal} of {row.leads})")
                for row in report.conversion
            ]
        ),
    }


@admin.register(DailyReport)
class DailyReportAdmin(ScopedReadOnlyAdmin):
    list_display = ["day", "kind", "key", "integration", "subaccount", "metrics", "read_at"]
    list_filter = [SubAccountScopeFilter, "kind"]
    search_fields = ["key"]
    date_hierarchy = "day"
    allow_delete = False

    def changelist_view(self, request, extra_context=None):
        extra = {"report_url": reverse("admin:sync_lead_report")}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [path("leads/", wrap(self.report_view), name="sync_lead_report"), *super().get_urls()]

    def report_view(self, request):
        choices, chosen = subaccount_chosen(request)
        chosen = chosen or choices.first()
        raw = request.GET.get("days", "")
        days = int(raw) if raw.isdigit() and int(raw) in DAY_CHOICES else 30
        report = lead_report(subaccount=chosen, days=days) if chosen is not None else None
        context = {
            **self.admin_site.each_context(request),
            "title": "Lead reporting",
            "opts": self.model._meta,
            "choices": choices,
            "chosen": chosen,
            "report": report,
            "days": days,
            "day_choices": DAY_CHOICES,
            **(report_charts(report) if report else {}),
        }
        return render(request, "admin/sync/lead_report.html", context)
