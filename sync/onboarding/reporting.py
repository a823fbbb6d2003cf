"""What the seed's AITable dashboard shows, per sub-account: active orders, audits per day with
employees processed and corrections made, portal usage, and revenue per order (employees processed
× the integration's price per employee)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from integrations.models import SubAccount
from sync.models import AuditResult, ClientOrder, ClientPortal, FlowStep
from sync.onboarding.config import FlowConfig


@dataclass(frozen=True)
class DayRow:
    day: date
    audits: int
    employees: int
    corrections: int
    failed: int


@dataclass(frozen=True)
class OrderRow:
    order: ClientOrder
    audits: int
    employees: int
    revenue: Decimal
    currency: str


@dataclass
class OnboardingReport:
    days: list[DayRow] = field(default_factory=list)
    orders: list[OrderRow] = field(default_factory=list)
    portals_created: int = 0
    portals_activated: int = 0
    files_uploaded: int = 0
    active_orders: int = 0
    failed_steps: int = 0
    revenue_total: Decimal = Decimal(0)
    currency: str = ""

    @property
    def busiest(self) -> int:
        return max((row.employees for row in self.days), default=0)


def onboarding_report(*, subaccount: SubAccount, days: int = 14) -> OnboardingReport:
    report = OnboardingReport()
    portals = ClientPortal.objects.filter(subaccount=subaccount)
    report.portals_created = portals.count()
    report.portals_activated = portals.filter(activated_at__isnull=False).count()
    audits = AuditResult.objects.filter(subaccount=subaccount)
    report.files_uploaded = audits.count()
    report.failed_steps = FlowStep.objects.filter(
        subaccount=subaccount, status=FlowStep.Status.FAILED
    ).count()
    since = timezone.now() - timedelta(days=days - 1)
    per_day = {
        row["day"]: row
        for row in audits.filter(processed_at__gte=since.replace(hour=0, minute=0, second=0, microsecond=0))
        .annotate(day=TruncDate("processed_at"))
        .values("day")
        .annotate(
            audits=Count("id"),
            employees=Sum("employees_processed"),
            corrections=Sum("corrections_made"),
            failed=Count("id", filter=Q(status=AuditResult.Status.FAILED)),
        )
    }
    today = timezone.localdate()
    for offset in range(days - 1, -1, -1):
        day = today - timedelta(days=offset)
        row = per_day.get(day) or {}
        report.days.append(
            DayRow(
                day=day,
                audits=row.get("audits") or 0,
                employees=row.get("employees") or 0,
                corrections=row.get("corrections") or 0,
                failed=row.get("failed") or 0,
            )
        )
    orders = (
        ClientOrder.objects.filter(subaccount=subaccount)
        .select_related("integration__template", "portal")
        .annotate(
            audit_count=Count("audits", filter=Q(audits__status=AuditResult.Status.COMPLETED)),
            employees=Sum(
                "audits__employees_processed", filter=Q(audits__status=AuditResult.Status.COMPLETED)
            ),
        )
        .order_by("-created_at")
    )
    prices: dict[int, FlowConfig | None] = {}
    for order in orders:
        if order.integration_id not in prices:
            prices[order.integration_id] = FlowConfig.of(order.integration)
        flow = prices[order.integration_id]
        price = flow.price_per_employee if flow else Decimal(0)
        currency = flow.currency if flow else ""
        employees = order.employees or 0
        revenue = price * employees
        report.orders.append(OrderRow(order, order.audit_count, employees, revenue, currency))
        report.revenue_total += revenue
        report.currency = report.currency or currency
        report.active_orders += order.status == ClientOrder.Status.ACTIVE
    return report
