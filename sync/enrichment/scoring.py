"""The default scorer: rule-based, pure (no database), every point explained.

``score(facts, profile, now=...)`` turns what is known about one contact or company
(``ScoreFacts``) into a ``Score``: four sub-scores 0-100, a total 0-100, the reasons and signals.
To score many records against one profile, build one ``Scorer(profile, now=...)`` and call its
``score`` per record: the profile's lists and the decay table are prepared once.

Points are integers; every fraction is rounded half up. A reason starts with its points
("+15 fit: ...", "−10 fit: ...", U+2212 for minus); a reason without points explains a neutral part.

Fit (against the ICP; case-insensitive; base 50, then clamped to 0-100)
    =========  =========  ===========  ==============================================
    criterion  in ICP     outside ICP  value compared
    =========  =========  ===========  ==============================================
    industry   +15        −15          industry equals one of ``icp_industries``
    size       +15        −10          employee band (``size``, else from ``employees``)
    country    +10        −10          ISO code equals one of ``icp_countries``
    title      +10        −5           job title contains one of ``icp_titles`` (contacts)
    =========  =========  ===========  ==============================================
    An empty ICP list leaves its criterion out (0 points, no reason). A configured criterion whose
    value is unknown gives 0 points and the reason "fit: <criterion> unknown". Reasons:
    "+15 fit: industry SaaS in ICP", "−10 fit: country FR outside ICP".
    Signal ``icp_match``: at least one criterion configured and every configured one matched.

Engagement (activities; 0 to 100)
    Activities are counted per UTC day. Only days no older than ``engagement_window_days`` count
    (age = today's date − the activity's date, in whole days; future dates count as age 0). Per
    type and day at most ``engagement_daily_cap`` activities count. Each counts its type's points
    × 0.5 ** (age / ``engagement_half_life_days``). Engagement = min(100, rounded sum).
    ===========  ======  =====================================================
    type         points  activities
    ===========  ======  =====================================================
    meeting      25      kind meeting
    call         15      kind call
    reply        12      kind email or message, direction inbound
    event        8       kind event
    e-mail sent  4       kind email or message, any other direction
    note         2       kind note
    task         2       kind task
    ===========  ======  =====================================================
    Reason: "+22 engagement: 3 meetings, 2 replies in 90 days" (counted activities by type, in the
    table's order), or "engagement: no activity in 90 days" (engagement 0).
    Signals: ``recent_reply`` (a reply at most 7 days old), ``meeting_booked`` (a meeting at most
    14 days old, or in the future).

Growth (base 50; no growth_rate, no open_roles and no ``hiring`` signal: 50, "growth: no data")
    growth_rate g (percent, 12 months): g ≥ 50: +25; g ≥ 20: +15; g ≥ 5: +5; g ≥ 0: 0; g < 0: −20
        ("+15 growth: head count +25% in 12 months")
    open_roles r: r ≥ 20: +15; r ≥ 5: +10; r ≥ 1: +5; 0: 0 ("+10 growth: 12 open roles")
    provider signal ``hiring``: +10 ("+10 growth: hiring signal")
    Clamped to 0-100. Signal ``growing`` when g ≥ 20.

Financial (base 50; none of the inputs: 50, "financial: no data")
    annual_revenue v: v ≥ 100M: +25; v ≥ 10M: +15; v ≥ 1M: +5; below: −10
        ("+15 financial: annual revenue 12.5M")
    funding_stage: public, series_c and later: +15; series_b: +10; series_a: +5; other: 0
        ("+10 financial: funding stage series_b"); without a stage, funding_total t:
        t ≥ 50M: +15; t ≥ 10M: +10; t ≥ 1M: +5; below: 0 ("+10 financial: raised 12M")
    provider signal ``funding``: +10 ("+10 financial: funding signal")
    Clamped to 0-100.

Total
    The sub-scores' average weighted by the profile's weights (they need not sum to 100), rounded.
    All weights 0: the plain average of the four, with the reason
    "total: all weights are 0, sub-scores weighted equally".
    Then the provider's own score (``facts.provider_score``), per ``profile.provider_score``:
    ``ignore``: unchanged ("provider score 85 ignored"); ``replace``: the provider's score
    ("score 85 from the provider replaces ours (62)"); ``blend`` with p = ``provider_blend_percent``:
    round(provider × p/100 + ours × (100 − p)/100) ("score blended: 50% provider 85, 50% ours 62").
    No provider score: nothing to do and no reason.

Signals (``Score.signals``): the provider's signals in their order, then the rule signals in the
order icp_match, recent_reply, meeting_booked, growing; duplicates dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from sync.enrichment.types import size_band

__all__ = [
    "SCORER_VERSION",
    "SUBSCORES",
    "ActivityCount",
    "Score",
    "ScoreFacts",
    "Scorer",
    "activity_counts",
    "score",
]

SCORER_VERSION = "rules-1"
SUBSCORES = ("financial", "growth", "engagement", "fit")
NEUTRAL = 50
MINUS = "\u2212"

# (kind, direction, UTC day, how many): what the engagement rules read, pre-aggregated per day.
ActivityCount = tuple[str, str, date, int]

# Engagement: type -> (points, singular, plural), in the order reasons list them.
ENGAGEMENT_TYPES: dict[str, tuple[int, str, str]] = {
    "meeting": (25, "meeting", "meetings"),
    "call": (15, "call", "calls"),
    "reply": (12, "reply", "replies"),
    "event": (8, "event", "events"),
    "sent": (4, "e-mail sent", "e-mails sent"),
    "note": (2, "note", "notes"),
    "task": (2, "task", "tasks"),
}
RECENT_REPLY_DAYS = 7
MEETING_BOOKED_DAYS = 14

FIT_POINTS = {  # criterion -> (in ICP, outside ICP)
    "industry": (15, -15),
    "size": (15, -10),
    "country": (10, -10),
    "title": (10, -5),
}
GROWTH_RATE_TIERS = ((50, 25), (20, 15), (5, 5), (0, 0))
GROWTH_RATE_NEGATIVE = -20
GROWING_RATE = 20
OPEN_ROLE_TIERS = ((20, 15), (5, 10), (1, 5), (0, 0))
SIGNAL_POINTS = 10  # provider signal hiring (growth) / funding (financial)
REVENUE_TIERS = ((100_000_000, 25), (10_000_000, 15), (1_000_000, 5))
REVENUE_LOW = -10
FUNDING_STAGE_POINTS = {
    "public": 15,
    "ipo": 15,
    "series_c": 15,
    "series_d": 15,
    "series_e": 15,
    "series_f": 15,
    "late_stage": 15,
    "series_b": 10,
    "series_a": 5,
}
FUNDING_TOTAL_TIERS = ((50_000_000, 15), (10_000_000, 10), (1_000_000, 5))
RULE_SIGNALS = ("icp_match", "recent_reply", "meeting_booked", "growing")


@dataclass(frozen=True)
class ScoreFacts:
    """Everything the scorer reads about one record (``sync.enrichment.facts`` loads them in bulk).

    ``enriched`` is the merged view (``types.enriched_view``; for a contact, its company's view
    fills what the contact's lacks). ``activities`` are per-day counts (``activity_counts`` turns
    single activities into them)."""

    entity: str
    industry: str = ""
    size: str = ""
    country: str = ""
    job_title: str = ""
    company_name: str = ""
    enriched: Mapping[str, Any] = field(default_factory=dict)
    provider_score: int | None = None
    provider_signals: Sequence[str] = ()
    activities: Sequence[ActivityCount] = ()


@dataclass(frozen=True)
class Score:
    total: int
    breakdown: dict[str, int]
    reasons: list[str]
    signals: list[str]
    version: str = SCORER_VERSION


class ProfileLike(Protocol):
    icp_industries: list
    icp_sizes: list
    icp_countries: list
    icp_titles: list
    engagement_window_days: int
    engagement_half_life_days: int
    engagement_daily_cap: int
    provider_score: str
    provider_blend_percent: int

    @property
    def weights(self) -> dict[str, int]: ...


def activity_counts(activities: Iterable[tuple[str, str, datetime]]) -> list[ActivityCount]:
    """Single activities (kind, direction, occurred_at, aware) as per-UTC-day counts."""
    counts: dict[tuple[str, str, date], int] = {}
    for kind, direction, occurred_at in activities:
        key = (kind, direction or "", _utc_date(occurred_at))
        counts[key] = counts.get(key, 0) + 1
    return [(kind, direction, day, n) for (kind, direction, day), n in counts.items()]


def score(facts: ScoreFacts, profile: ProfileLike, *, now: datetime) -> Score:
    """Score one record (for many, build one ``Scorer`` and reuse it)."""
    return Scorer(profile, now=now).score(facts)


class Scorer:
    """One profile's rules prepared once (lower-cased ICP sets, weights, decay per age in days)."""

    def __init__(self, profile: ProfileLike, *, now: datetime) -> None:
        self.today = _utc_date(now)
        self.industries = _lowered(profile.icp_industries)
        self.sizes = _lowered(profile.icp_sizes)
        self.countries = _lowered(profile.icp_countries)
        self.titles = tuple(_lowered(profile.icp_titles))
        self.window = int(profile.engagement_window_days)
        half_life = max(1, int(profile.engagement_half_life_days))
        self.decay = [0.5 ** (age / half_life) for age in range(self.window + 1)]
        self.cap = max(1, int(profile.engagement_daily_cap))
        weights = {name: int(profile.weights[name]) for name in SUBSCORES}
        self.equal_weights = not any(weights.values())
        self.weights = {name: 1 for name in SUBSCORES} if self.equal_weights else weights
        self.weight_sum = sum(self.weights.values())
        self.provider_mode = profile.provider_score
        self.blend = int(profile.provider_blend_percent)

    def score(self, facts: ScoreFacts) -> Score:
        reasons: list[str] = []
        signals: list[str] = list(dict.fromkeys(facts.provider_signals))
        rule_signals: set[str] = set()
        fit = self._fit(facts, reasons, rule_signals)
        engagement = self._engagement(facts.activities, reasons, rule_signals)
        view = facts.enriched
        growth = self._growth(view, signals, reasons, rule_signals)
        financial = self._financial(view, signals, reasons)
        breakdown = {"financial": financial, "growth": growth, "engagement": engagement, "fit": fit}
        total = _round(sum(self.weights[name] * breakdown[name] for name in SUBSCORES) / self.weight_sum)
        if self.equal_weights:
            reasons.append("total: all weights are 0, sub-scores weighted equally")
        total = self._provider(total, facts.provider_score, reasons)
        signals.extend(s for s in RULE_SIGNALS if s in rule_signals and s not in signals)
        return Score(total=total, breakdown=breakdown, reasons=reasons, signals=signals)

    # --- fit ---------------------------------------------------------------------------------

    def _fit(self, facts: ScoreFacts, reasons: list[str], rule_signals: set[str]) -> int:
        points = NEUTRAL
        configured = matched = 0
        size = facts.size or size_band(_int(facts.enriched.get("employees")))
        criteria = [
            ("industry", self.industries, facts.industry, None),
            ("size", self.sizes, size, None),
            ("country", self.countries, facts.country, None),
        ]
        if facts.entity == "contact":
            criteria.append(("title", self.titles, facts.job_title, self._title_match))
        for name, accepted, value, match in criteria:
            if not accepted:
                continue
            configured += 1
            value = (value or "").strip()
            if not value:
                reasons.append(f"fit: {name} unknown")
                continue
            inside = match(value) if match else value.lower() in accepted
            gained = FIT_POINTS[name][0 if inside else 1]
            points += gained
            matched += inside
            reasons.append(f"{_signed(gained)} fit: {name} {value} {'in' if inside else 'outside'} ICP")
        if configured and matched == configured:
            rule_signals.add("icp_match")
        return _clamp(points)

    def _title_match(self, title: str) -> bool:
        lowered = title.lower()
        return any(keyword in lowered for keyword in self.titles)

    # --- engagement --------------------------------------------------------------------------

    def _engagement(
        self, activities: Sequence[ActivityCount], reasons: list[str], rule_signals: set[str]
    ) -> int:
        per_day: dict[tuple[str, date], int] = {}
        for kind, direction, day, n in activities:
            kind_type = _engagement_type(kind, direction)
            if kind_type is not None and (self.today - day).days <= self.window:
                key = (kind_type, day)
                per_day[key] = per_day.get(key, 0) + n
        if not per_day:
            reasons.append(f"engagement: no activity in {self.window} days")
            return 0
        total = 0.0
        counted: dict[str, int] = {}
        for (kind_type, day), n in per_day.items():
            age = max(0, (self.today - day).days)
            n = min(n, self.cap)
            total += ENGAGEMENT_TYPES[kind_type][0] * n * self.decay[age]
            counted[kind_type] = counted.get(kind_type, 0) + n
            if kind_type == "reply" and age <= RECENT_REPLY_DAYS:
                rule_signals.add("recent_reply")
            elif kind_type == "meeting" and age <= MEETING_BOOKED_DAYS:
                rule_signals.add("meeting_booked")
        engagement = min(100, _round(total))
        listed = ", ".join(
            f"{counted[t]} {ENGAGEMENT_TYPES[t][1 if counted[t] == 1 else 2]}"
            for t in ENGAGEMENT_TYPES
            if t in counted
        )
        reasons.append(f"{_signed(engagement)} engagement: {listed} in {self.window} days")
        return engagement

    # --- growth and financial ----------------------------------------------------------------

    def _growth(
        self, view: Mapping[str, Any], signals: list[str], reasons: list[str], rule_signals: set[str]
    ) -> int:
        rate, roles, hiring = (
            _number(view.get("growth_rate")),
            _int(view.get("open_roles")),
            "hiring" in signals,
        )
        if rate is None and roles is None and not hiring:
            reasons.append("growth: no data")
            return NEUTRAL
        points = NEUTRAL
        if rate is not None:
            gained = _tier(rate, GROWTH_RATE_TIERS, GROWTH_RATE_NEGATIVE)
            points += gained
            reasons.append(f"{_signed(gained)} growth: head count {_percent(rate)} in 12 months")
            if rate >= GROWING_RATE:
                rule_signals.add("growing")
        if roles is not None:
            gained = _tier(roles, OPEN_ROLE_TIERS, 0)
            points += gained
            label = "no open roles" if roles <= 0 else f"{roles} open role{'s' if roles != 1 else ''}"
            reasons.append(f"{_signed(gained)} growth: {label}")
        if hiring:
            points += SIGNAL_POINTS
            reasons.append(f"{_signed(SIGNAL_POINTS)} growth: hiring signal")
        return _clamp(points)

    def _financial(self, view: Mapping[str, Any], signals: list[str], reasons: list[str]) -> int:
        revenue = _number(view.get("annual_revenue"))
        stage = str(view.get("funding_stage") or "").strip().lower()
        raised = _number(view.get("funding_total"))
        funding = "funding" in signals
        if revenue is None and not stage and raised is None and not funding:
            reasons.append("financial: no data")
            return NEUTRAL
        points = NEUTRAL
        if revenue is not None:
            gained = _tier(revenue, REVENUE_TIERS, REVENUE_LOW)
            points += gained
            reasons.append(f"{_signed(gained)} financial: annual revenue {_money(revenue)}")
        if stage:
            gained = FUNDING_STAGE_POINTS.get(stage, 0)
            points += gained
            reasons.append(f"{_signed(gained)} financial: funding stage {stage}")
        elif raised is not None:
            gained = _tier(raised, FUNDING_TOTAL_TIERS, 0)
            points += gained
            reasons.append(f"{_signed(gained)} financial: raised {_money(raised)}")
        if funding:
            points += SIGNAL_POINTS
            reasons.append(f"{_signed(SIGNAL_POINTS)} financial: funding signal")
        return _clamp(points)

    # --- the provider's own score ------------------------------------------------------------

    def _provider(self, ours: int, provider: int | None, reasons: list[str]) -> int:
        if provider is None:
            return ours
        provider = _clamp(provider)
        if self.provider_mode == "replace":
            reasons.append(f"score {provider} from the provider replaces ours ({ours})")
            return provider
        if self.provider_mode == "blend":
            blended = _round((provider * self.blend + ours * (100 - self.blend)) / 100)
            reasons.append(
                f"score blended: {self.blend}% provider {provider}, {100 - self.blend}% ours {ours}"
            )
            return _clamp(blended)
        reasons.append(f"provider score {provider} ignored")
        return ours


def _engagement_type(kind: str, direction: str) -> str | None:
    if kind in ("email", "message"):
        return "reply" if direction == "inbound" else "sent"
    return kind if kind in ENGAGEMENT_TYPES else None


def _lowered(values: Iterable[Any] | None) -> set[str]:
    return {str(v).strip().lower() for v in values or () if str(v).strip()}


def _utc_date(moment: datetime) -> date:
    offset = moment.utcoffset()
    return (moment - offset).date() if offset else moment.date()


def _round(value: float) -> int:
    """Half up (Python's round() goes to even: 62.5 would become 62)."""
    return int(math.floor(value + 0.5))


def _clamp(value: float) -> int:
    return max(0, min(100, int(value)))


def _signed(points: int) -> str:
    return f"+{points}" if points >= 0 else f"{MINUS}{-points}"


def _tier(value: float, tiers: tuple[tuple[float, int], ...], below: int) -> int:
    for threshold, points in tiers:
        if value >= threshold:
            return points
    return below


def _number(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _percent(rate: float) -> str:
    text = f"{rate:+.1f}".rstrip("0").rstrip(".")
    return text.replace("-", MINUS) + "%"


def _money(amount: float) -> str:
    for divisor, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(amount) >= divisor:
            return f"{amount / divisor:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{amount:.0f}"
