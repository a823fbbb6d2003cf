"""The default scorer's documented rules, with exact scores and reasons (sync/enrichment/scoring.py)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from sync.enrichment.scoring import SCORER_VERSION, ScoreFacts, Scorer, activity_counts, score
from sync.models import ScoringProfile

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def profile(**overrides) -> ScoringProfile:
    """An unsaved profile: the scorer reads attributes only."""
    values = {
        "icp_industries": ["SaaS", "Fintech"],
        "icp_sizes": ["51-200"],
        "icp_countries": ["US", "GB"],
        "icp_titles": ["VP", "Head"],
        "provider_score": "ignore",
        **overrides,
    }
    return ScoringProfile(**values)


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


def test_fit_points_and_reasons_exactly():
    facts = ScoreFacts(entity="contact", industry="saas", size="51-200", country="FR", job_title="VP Sales")
    result = score(facts, profile(), now=NOW)
    assert result.breakdown == {"financial": 50, "growth": 50, "engagement": 0, "fit": 80}
    # 20·50 + 20·50 + 30·0 + 30·80 = 4,400 / 100
    assert result.total == 44
    assert result.reasons == [
        "+15 fit: industry saas in ICP",
        "+15 fit: size 51-200 in ICP",
        "\u221210 fit: country FR outside ICP",
        "+10 fit: title VP Sales in ICP",
        "engagement: no activity in 90 days",
        "growth: no data",
        "financial: no data",
    ]
    assert result.signals == []
    assert result.version == SCORER_VERSION


def test_fit_outside_everything_and_icp_match_signal():
    outside = ScoreFacts(entity="contact", industry="Retail", size="5001+", country="fr", job_title="Intern")
    assert score(outside, profile(), now=NOW).breakdown["fit"] == 50 - 15 - 10 - 10 - 5
    inside = ScoreFacts(
        entity="contact", industry="Fintech", size="51-200", country="gb", job_title="Head of IT"
    )
    result = score(inside, profile(), now=NOW)
    assert result.breakdown["fit"] == 100
    assert "icp_match" in result.signals


def test_empty_icp_lists_are_neutral_and_unknown_values_are_explained():
    facts = ScoreFacts(entity="contact", industry="Retail", job_title="")
    result = score(facts, profile(icp_industries=[], icp_sizes=[], icp_countries=[]), now=NOW)
    assert result.breakdown["fit"] == 50
    assert [r for r in result.reasons if "fit" in r] == ["fit: title unknown"]
    nothing = score(facts, profile(icp_industries=[], icp_sizes=[], icp_countries=[], icp_titles=[]), now=NOW)
    assert nothing.breakdown["fit"] == 50
    assert not [r for r in nothing.reasons if "fit" in r]
    assert "icp_match" not in nothing.signals


def test_size_comes_from_employees_and_companies_have_no_title_rule():
    facts = ScoreFacts(entity="company", industry="SaaS", country="US", enriched={"employees": 120})
    result = score(facts, profile(), now=NOW)
    assert result.breakdown["fit"] == 50 + 15 + 15 + 10
    assert "+15 fit: size 51-200 in ICP" in result.reasons
    assert "icp_match" in result.signals


def test_engagement_weights_decay_and_signals():
    facts = ScoreFacts(
        entity="contact",
        activities=[
            ("meeting", "", TODAY, 1),  # 25
            ("call", "outbound", days_ago(30), 1),  # 15 × 0.5 = 7.5
            ("email", "inbound", TODAY, 1),  # 12
        ],
    )
    result = score(facts, profile(icp_industries=[], icp_sizes=[], icp_countries=[], icp_titles=[]), now=NOW)
    assert result.breakdown["engagement"] == 45  # 44.5 rounded half up
    assert "+45 engagement: 1 meeting, 1 call, 1 reply in 90 days" in result.reasons
    assert result.signals == ["recent_reply", "meeting_booked"]


@pytest.mark.parametrize(
    ("age", "expected"),
    [(0, 25), (30, 13), (60, 6), (90, 3), (91, 0)],  # 25, 12.5, 6.25, 3.125, outside the window
)
def test_an_activity_at_the_half_life_counts_half_and_outside_the_window_not_at_all(age, expected):
    facts = ScoreFacts(entity="contact", activities=[("meeting", "", days_ago(age), 1)])
    assert score(facts, profile(), now=NOW).breakdown["engagement"] == expected


def test_half_life_and_window_come_from_the_profile():
    facts = ScoreFacts(entity="contact", activities=[("meeting", "", days_ago(10), 1)])
    assert score(facts, profile(engagement_half_life_days=10), now=NOW).breakdown["engagement"] == 13
    result = score(facts, profile(engagement_window_days=7), now=NOW)
    assert result.breakdown["engagement"] == 0
    assert "engagement: no activity in 7 days" in result.reasons


def test_daily_cap_per_type():
    facts = ScoreFacts(
        entity="contact",
        activities=[
            ("call", "outbound", TODAY, 4),
            ("call", "inbound", TODAY, 2),  # same type, same day: 6 calls, 3 count
            ("email", "outbound", TODAY, 1),
            ("message", "outbound", TODAY, 1),  # 2 e-mails sent, both count
        ],
    )
    result = score(facts, profile(), now=NOW)
    assert result.breakdown["engagement"] == 3 * 15 + 2 * 4
    assert "+53 engagement: 3 calls, 2 e-mails sent in 90 days" in result.reasons
    assert score(facts, profile(engagement_daily_cap=1), now=NOW).breakdown["engagement"] == 15 + 4


def test_engagement_saturates_at_100_and_future_meetings_count_as_booked():
    facts = ScoreFacts(
        entity="contact", activities=[("meeting", "", TODAY + timedelta(days=d), 3) for d in range(3)]
    )
    result = score(facts, profile(), now=NOW)
    assert result.breakdown["engagement"] == 100
    assert "meeting_booked" in result.signals


def test_activity_counts_group_single_activities_per_utc_day():
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    counts = activity_counts(
        [("call", "", late), ("call", None, late - timedelta(hours=1)), ("note", "", NOW)]
    )
    assert sorted(counts) == [("call", "", TODAY, 2), ("note", "", TODAY, 1)]


def test_growth_rules():
    facts = ScoreFacts(
        entity="company",
        enriched={"growth_rate": 25, "open_roles": 12},
        provider_signals=("hiring",),
    )
    result = score(facts, profile(), now=NOW)
    assert result.breakdown["growth"] == 50 + 15 + 10 + 10
    assert [r for r in result.reasons if "growth" in r] == [
        "+15 growth: head count +25% in 12 months",
        "+10 growth: 12 open roles",
        "+10 growth: hiring signal",
    ]
    assert result.signals == ["hiring", "growing"]
    shrinking = score(
        ScoreFacts(entity="company", enriched={"growth_rate": -8, "open_roles": 0}), profile(), now=NOW
    )
    assert shrinking.breakdown["growth"] == 30
    assert "\u221220 growth: head count \u22128% in 12 months" in shrinking.reasons
    assert "+0 growth: no open roles" in shrinking.reasons


def test_financial_rules():
    facts = ScoreFacts(
        entity="company",
        enriched={"annual_revenue": 12_500_000, "funding_stage": "Series_B", "funding_total": 99_000_000},
        provider_signals=("funding",),
    )
    result = score(facts, profile(), now=NOW)
    assert result.breakdown["financial"] == 50 + 15 + 10 + 10
    assert [r for r in result.reasons if "financial" in r] == [
        "+15 financial: annual revenue 12.5M",
        "+10 financial: funding stage series_b",
        "+10 financial: funding signal",
    ]
    small = score(
        ScoreFacts(entity="company", enriched={"annual_revenue": 500_000, "funding_total": 12e6}),
        profile(),
        now=NOW,
    )
    assert small.breakdown["financial"] == 50 - 10 + 10
    assert small.reasons[-2:] == ["\u221210 financial: annual revenue 500K", "+10 financial: raised 12M"]


def test_weights_change_the_total_as_documented():
    facts = ScoreFacts(entity="contact", industry="SaaS", size="51-200", country="US", job_title="VP")
    # breakdown: financial 50, growth 50, engagement 0, fit 100
    assert score(facts, profile(), now=NOW).total == 50  # (20·50 + 20·50 + 0 + 30·100) / 100
    only_fit = profile(weight_financial=0, weight_growth=0, weight_engagement=0, weight_fit=7)
    assert score(facts, only_fit, now=NOW).total == 100
    only_engagement = profile(weight_financial=0, weight_growth=0, weight_engagement=1, weight_fit=0)
    assert score(facts, only_engagement, now=NOW).total == 0
    uneven = profile(weight_financial=1, weight_growth=1, weight_engagement=1, weight_fit=5)
    assert score(facts, uneven, now=NOW).total == 75  # (50 + 50 + 0 + 500) / 8
    zero = profile(weight_financial=0, weight_growth=0, weight_engagement=0, weight_fit=0)
    result = score(facts, zero, now=NOW)
    assert result.total == 50  # (50 + 50 + 0 + 100) / 4
    assert result.reasons[-1] == "total: all weights are 0, sub-scores weighted equally"


@pytest.mark.parametrize(
    ("mode", "percent", "expected", "reason"),
    [
        ("ignore", 50, 44, "provider score 91 ignored"),
        ("replace", 50, 91, "score 91 from the provider replaces ours (44)"),
        ("blend", 50, 68, "score blended: 50% provider 91, 50% ours 44"),  # 67.5 half up
        ("blend", 20, 53, "score blended: 20% provider 91, 80% ours 44"),  # 53.4
        ("blend", 0, 44, "score blended: 0% provider 91, 100% ours 44"),
    ],
)
def test_provider_score_ignore_replace_blend(mode, percent, expected, reason):
    facts = ScoreFacts(
        entity="contact",
        industry="saas",
        size="51-200",
        country="FR",
        job_title="VP Sales",
        provider_score=91,
    )
    result = score(facts, profile(provider_score=mode, provider_blend_percent=percent), now=NOW)
    assert result.total == expected
    assert result.reasons[-1] == reason
    assert result.breakdown["fit"] == 80  # the sub-scores stay ours


def test_without_a_provider_score_no_provider_reason():
    result = score(ScoreFacts(entity="contact"), profile(provider_score="replace"), now=NOW)
    assert not [r for r in result.reasons if "provider" in r]


def test_provider_signals_first_then_rule_signals_without_duplicates():
    facts = ScoreFacts(
        entity="contact",
        provider_signals=("visited_pricing", "recent_reply", "visited_pricing"),
        activities=[("email", "inbound", TODAY, 1)],
    )
    assert score(facts, profile(), now=NOW).signals == ["visited_pricing", "recent_reply"]


def test_a_prepared_scorer_gives_the_same_scores():
    scorer = Scorer(profile(), now=NOW)
    facts = ScoreFacts(entity="contact", industry="SaaS", activities=[("call", "", days_ago(3), 2)])
    assert scorer.score(facts) == score(facts, profile(), now=NOW)
