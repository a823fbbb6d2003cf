"""The operator's enrichment pages: each sub-account's scoring profile with its rule tables, the
enrichment log (the job queue, read-only, failed jobs retried through ``jobs_enqueue``), the
calibration report and the priority queue, and the enrichment panel of contact and company pages.

Everything is scoped like the rest of the admin (``integrations.admin_scope``): a staff user sees
only the sub-accounts they are a member of.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.checks import InlineModelAdminChecks
from django.db.models import QuerySet
from django.forms.models import inlineformset_factory
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from integrations.admin_scope import (
    IntegrationScopeFilter,
    ScopedAdmin,
    ScopedReadOnlyAdmin,
    SubAccountScopeFilter,
    subaccount_chosen,
    subaccounts_for,
)
from integrations.models import SubAccount
from sync.api.enrichment_selectors import (
    WON_STAGES,
    calibration_report,
    priority_queue_list,
    score_history_list,
)
from sync.enrichment.jobs import PRIORITY_HIGH, jobs_enqueue
from sync.entities import entity_for
from sync.models import EnrichmentJob, NextActionRule, OwnerRule, ScoringProfile

SCORE_HISTORY_SHOWN = 20
ENRICH_NOW_LIMIT = 1000  # records one admin action queues (one INSERT)
QUEUE_SHOWN = 100


class CommaSeparatedField(forms.CharField):
    """A JSON list of strings edited as "a, b, c" (never raw JSON)."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 60}))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(item) for item in value)
        return value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return value
        text = super().to_python(value) or ""
        return list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))

    def has_changed(self, initial: Any, data: Any) -> bool:
        return (initial or []) != self.to_python(data)


WEIGHTS = ScoringProfile.WEIGHTS


class ScoringProfileForm(forms.ModelForm):
    icp_industries = CommaSeparatedField(help_text="e.g. SaaS, Fintech (empty: any)")
    icp_sizes = CommaSeparatedField(help_text="Employee bands, e.g. 51-200, 201-1000 (empty: any)")
    icp_countries = CommaSeparatedField(help_text="ISO codes, e.g. GB, US (empty: any)")
    icp_titles = CommaSeparatedField(help_text="Title keywords, e.g. VP, Head, CTO (empty: any)")

    class Meta:
        model = ScoringProfile
        fields = [
            "subaccount",
            *ScoringProfile.EDITABLE,
        ]

    def clean_icp_countries(self) -> list[str]:
        return [code.upper() for code in self.cleaned_data["icp_countries"]]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if all(cleaned.get(name) == 0 for name in WEIGHTS):
            raise forms.ValidationError("At least one weight must be above 0.")
        return cleaned


class OwnerRuleForm(forms.ModelForm):
    countries = CommaSeparatedField(help_text="ISO codes, e.g. GB, IE (empty: any)")
    regions = CommaSeparatedField(help_text="e.g. CA, NY (empty: any)")
    postcode_prefixes = CommaSeparatedField(help_text="e.g. SW1, EC (empty: any)")
    industries = CommaSeparatedField(help_text="(empty: any)")
    team = CommaSeparatedField(
        required=True, help_text="Owners taking turns, e.g. alice@acme.test, bob@acme.test"
    )

    class Meta:
        model = OwnerRule
        fields = [*OwnerRule.EDITABLE]

    def clean_countries(self) -> list[str]:
        return [code.upper() for code in self.cleaned_data["countries"]]


class NextActionRuleForm(forms.ModelForm):
    class Meta:
        model = NextActionRule
        fields = [*NextActionRule.EDITABLE]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        low, high = cleaned.get("min_score"), cleaned.get("max_score")
        if low is not None and high is not None and low > high:
            self.add_error("min_score", "Must not be above the maximum score.")
        return cleaned


class _SubAccountRuleChecks(InlineModelAdminChecks):
    """The rules belong to the profile's sub-account, not to the profile: no foreign key to check."""

    def _check_relation(self, obj, parent_model):
        return []


class SubAccountRuleInline(admin.TabularInline):
    """Rows of a sub-account rule table shown on its scoring profile (both point at the sub-account)."""

    checks_class = _SubAccountRuleChecks
    extra = 0

    def get_formset(self, request, obj=None, **kwargs):
        formset = inlineformset_factory(
            SubAccount,
            self.model,
            form=self.form,
            fields=self.form._meta.fields,
            extra=self.extra,
            can_delete=self.has_delete_permission(request, obj),
        )

        class ProfileRuleFormSet(formset):
            def __init__(self, data=None, files=None, instance=None, **kw):
                subaccount = instance.subaccount if instance is not None and instance.subaccount_id else None
                super().__init__(data, files, instance=subaccount, **kw)

        return ProfileRuleFormSet


class NextActionRuleInline(SubAccountRuleInline):
    model = NextActionRule
    form = NextActionRuleForm
    verbose_name_plural = "Next-action rules (every matching rule suggests its action)"


class OwnerRuleInline(SubAccountRuleInline):
    model = OwnerRule
    form = OwnerRuleForm
    verbose_name_plural = "Owner rules (the first matching rule assigns, round-robin in its team)"


@admin.register(ScoringProfile)
class ScoringProfileAdmin(ScopedAdmin):
    form = ScoringProfileForm
    list_display = ["subaccount", "weights_shown", "provider_score", "field_prefix", "updated_at", "reports"]
    list_filter = [SubAccountScopeFilter]
    inlines = [NextActionRuleInline, OwnerRuleInline]
    readonly_fields = ["updated_at", "reports"]
    fieldsets = [
        (None, {"fields": ["subaccount", "reports"]}),
        (
            "Ideal customer profile",
            {"fields": ["icp_industries", "icp_sizes", "icp_countries", "icp_titles"]},
        ),
        ("Weights of the sub-scores (relative)", {"fields": list(WEIGHTS)}),
        (
            "Engagement decay",
            {"fields": ["engagement_window_days", "engagement_half_life_days", "engagement_daily_cap"]},
        ),
        ("Provider scores", {"fields": ["provider_score", "provider_blend_percent"]}),
        (
            "CRM fields and deals",
            {"fields": ["field_prefix", "deal_name_template", "deal_stage", "deal_pipeline"]},
        ),
        ("History", {"fields": ["updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [*self.readonly_fields, "subaccount"] if obj is not None else self.readonly_fields

    def get_inline_instances(self, request, obj=None):
        return super().get_inline_instances(request, obj) if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "subaccount":
            kwargs["queryset"] = subaccounts_for(request.user).filter(scoring_profile__isnull=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("calibration/", wrap(self.calibration_view), name="sync_scoring_calibration"),
            path("priority-queue/", wrap(self.priority_queue_view), name="sync_priority_queue"),
            *super().get_urls(),
        ]

    @admin.display(description="Weights F/G/E/Fit")
    def weights_shown(self, obj: ScoringProfile) -> str:
        return "/".join(str(getattr(obj, name)) for name in WEIGHTS)

    @admin.display(description="Reports")
    def reports(self, obj: ScoringProfile) -> str:
        if obj.pk is None:
            return "—"
        return format_html(
            "<a href='{}?subaccount={}'>Calibration</a> · <a href='{}?subaccount={}'>Priority queue</a>",
            reverse("admin:sync_scoring_calibration"),
            obj.subaccount_id,
            reverse("admin:sync_priority_queue"),
            obj.subaccount_id,
        )

    def calibration_view(self, request):
        """Score bands of 10 against deals and won deals: does the threshold predict anything?"""
        choices, chosen = subaccount_chosen(request)
        chosen = chosen or choices.first()
        report = calibration_report(subaccount=chosen) if chosen is not None else None
        context = {
            **self.admin_site.each_context(request),
            "title": "Score calibration",
            "opts": self.model._meta,
            "choices": choices,
            "chosen": chosen,
            "report": report,
            "won_stages": sorted(WON_STAGES),
        }
        return render(request, "admin/sync/enrichment_calibration.html", context)

    def priority_queue_view(self, request):
        """The records to work next, as the API lists them: filter by sub-account, owner, entity."""
        choices, chosen = subaccount_chosen(request)
        entity = request.GET.get("entity", "contact")
        if entity not in ("contact", "company"):
            entity = "contact"
        owner = request.GET.get("owner", "").strip()
        records = priority_queue_list(
            subaccount=chosen,
            subaccounts=None if chosen is not None else choices,
            entity=entity,
            owner_id=owner or None,
            limit=QUEUE_SHOWN,
        )
        rows = [
            {
                "record": record,
                "url": reverse(f"admin:sync_{entity}_change", args=[record.pk]),
                "next_action": (record.next_actions or [{}])[0],
            }
            for record in records
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Priority queue",
            "opts": self.model._meta,
            "choices": choices,
            "chosen": chosen,
            "entity": entity,
            "owner": owner,
            "rows": rows,
        }
        return render(request, "admin/sync/enrichment_priority_queue.html", context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "calibration_url": reverse("admin:sync_scoring_calibration"),
            "priority_queue_url": reverse("admin:sync_priority_queue"),
        }
        return super().changelist_view(request, extra_context)


@admin.register(EnrichmentJob)
class EnrichmentJobAdmin(ScopedReadOnlyAdmin):
    """The enrichment log: every queued, running and finished job, as the sync-log API shows it."""

    list_display = [
        "id",
        "created_at",
        "record",
        "status",
        "priority",
        "operation",
        "attempts",
        "duration_ms",
        "enrichment_ms",
        "short_error",
        "integration",
        "subaccount",
    ]
    list_select_related = ["subaccount", "integration"]
    list_filter = [SubAccountScopeFilter, "status", "entity", IntegrationScopeFilter]
    search_fields = ["record_id__exact", "error", "reason"]
    ordering = ["-id"]
    actions = ["retry"]

    def get_readonly_fields(self, request, obj=None) -> list[str]:
        return [field.name for field in EnrichmentJob._meta.fields]

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {**(extra_context or {}), "title": "Enrichment log"})

    @admin.display(description="Record")
    def record(self, obj: EnrichmentJob) -> str:
        url = reverse(f"admin:sync_{obj.entity}_change", args=[obj.record_id])
        return format_html("<a href='{}'>{} {}</a>", url, obj.entity, obj.record_id)

    @admin.display(description="Error")
    def short_error(self, obj: EnrichmentJob) -> str:
        return (obj.error[:80] + "…") if len(obj.error) > 80 else obj.error

    @admin.action(description="Retry failed jobs (queue them again)", permissions=["operate"])
    def retry(self, request, queryset: QuerySet) -> None:
        failed = list(queryset.filter(status=EnrichmentJob.Status.FAILED))
        groups: dict[tuple, list[int]] = defaultdict(list)
        for job in failed:
            key = (
                job.subaccount_id,
                job.entity,
                job.integration_id,
                job.priority,
                job.skip_enrichment,
                job.operation,
            )
            groups[key].append(job.record_id)
        for (subaccount_id, entity, integration_id, priority, skip, operation), ids in groups.items():
            jobs_enqueue(
                subaccount_id=subaccount_id,
                entity=entity,
                record_ids=ids,
                integration_id=integration_id,
                priority=priority,
                skip_enrichment=skip,
                reason="admin retry",
                operation=operation,
            )
        skipped = queryset.count() - len(failed)
        note = f"; {skipped} not failed, left alone" if skipped else ""
        self.message_user(request, f"Queued {len(failed)} failed job(s) again{note}.")


class EnrichmentPanelMixin:
    """Contact and company pages: the record's score, why, what to do next, what providers found,
    its score history, and "Enrich and score now"."""

    enrichment_readonly = ["enrichment_panel", "score_history"]

    @admin.display(description="Enrichment and score")
    def enrichment_panel(self, obj) -> str:
        breakdown = obj.score_breakdown or {}
        rows = [
            ("Score", "—" if obj.score is None else obj.score),
            ("Sub-scores", ", ".join(f"{name} {value}" for name, value in breakdown.items()) or "—"),
            (
                "Scored",
                f"{obj.scored_at:%Y-%m-%d %H:%M} ({obj.scorer_version})" if obj.scored_at else "never",
            ),
            ("Suggested stage", obj.suggested_stage or "—"),
            ("Signals", ", ".join(str(signal) for signal in obj.signals or []) or "—"),
            ("Enrichment error", obj.enrichment_error or "—"),
        ]
        reasons = format_html_join("", "<li>{}</li>", ((reason,) for reason in obj.score_reasons or []))
        actions = format_html_join(
            "",
            "<li>{} (due {})</li>",
            ((action.get("action", ""), action.get("due_at") or "—") for action in obj.next_actions or []),
        )
        enriched = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            (
                (provider, key, value)
                for provider, found in sorted((obj.enriched or {}).items())
                for key, value in sorted((found or {}).items())
            ),
        )
        return format_html(
            "<table>{}</table><h4>Reasons</h4><ul>{}</ul><h4>Next actions</h4><ul>{}</ul>"
            "<h4>Found by providers</h4><table>{}</table>",
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
            reasons or format_html("<li>{}</li>", "—"),
            actions or format_html("<li>{}</li>", "—"),
            enriched or format_html("<tr><td>{}</td></tr>", "nothing yet"),
        )

    @admin.display(description=f"Score history (last {SCORE_HISTORY_SHOWN})")
    def score_history(self, obj) -> str:
        rows = score_history_list(entity=entity_for(obj).name, record=obj)[:SCORE_HISTORY_SHOWN]
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    row.created_at.strftime("%Y-%m-%d %H:%M"),
                    row.score,
                    row.cause or "—",
                    row.scorer_version,
                    "; ".join(str(reason) for reason in row.reasons),
                )
                for row in rows
            ),
        )
        if not body:
            return "No score yet"
        return format_html(
            "<table><tr><th>When</th><th>Score</th><th>Cause</th><th>Scorer</th><th>Reasons</th></tr>{}</table>",
            body,
        )

    @admin.action(description="Enrich and score now", permissions=["operate"])
    def enrich_now(self, request, queryset: QuerySet) -> None:
        if queryset.count() > ENRICH_NOW_LIMIT:
            self.message_user(request, f"Select at most {ENRICH_NOW_LIMIT} records.", messages.ERROR)
            return
        entity = entity_for(queryset.model).name
        by_subaccount: dict[int, list[int]] = defaultdict(list)
        for subaccount_id, pk in queryset.filter(is_deleted=False).values_list("subaccount_id", "pk"):
            by_subaccount[subaccount_id].append(pk)
        queued = 0
        for subaccount_id, ids in by_subaccount.items():
            jobs_enqueue(
                subaccount_id=subaccount_id,
                entity=entity,
                record_ids=ids,
                priority=PRIORITY_HIGH,
                reason="admin",
            )
            queued += len(ids)
        self.message_user(
            request,
            format_html(
                "Queued {} record(s) to be enriched and scored: see the <a href='{}'>enrichment log</a>.",
                queued,
                reverse("admin:sync_enrichmentjob_changelist"),
            ),
        )
