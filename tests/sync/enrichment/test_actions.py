"""Next actions and the suggested stage from the rule table; the profile and its default rules."""

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection

from sync.enrichment.actions import DEFAULT_NEXT_ACTION_RULES, next_actions, profile_for
from sync.models import NextActionRule, ScoringProfile

NOW = datetime(2026, 3, 1, 12, 0, 30, 123456, tzinfo=UTC)


def default_rules() -> list[NextActionRule]:
    return [
        NextActionRule(pk=index + 1, position=index, **values)
        for index, values in enumerate(DEFAULT_NEXT_ACTION_RULES)
    ]


def test_a_hot_record_gets_a_call_within_48_hours_and_the_qualified_stage():
    actions, stage = next_actions(85, ["hiring"], default_rules(), now=NOW)
    assert actions == [
        {"action": "Schedule call within 48 h", "due_at": "2026-03-03T12:00:30+00:00", "rule": 1},
        {"action": "Reference their hiring in outreach", "due_at": "2026-03-04T12:00:30+00:00", "rule": 6},
    ]
    assert stage == "qualified"


@pytest.mark.parametrize(
    ("score", "action", "stage"),
    [
        (80, "Schedule call within 48 h", "qualified"),
        (79, "Send tailored follow-up e-mail", "contacted"),
        (60, "Send tailored follow-up e-mail", "contacted"),
        (59, "Add to nurture sequence", "lead"),
        (0, "Add to nurture sequence", "lead"),
    ],
)
def test_score_bands_are_inclusive(score, action, stage):
    actions, suggested = next_actions(score, [], default_rules(), now=NOW)
    assert [a["action"] for a in actions] == [action]
    assert suggested == stage


def test_signal_rules_need_their_signal_and_inactive_rules_never_match():
    rules = default_rules()
    actions, _ = next_actions(70, ["recent_reply", "funding", "meeting_booked"], rules, now=NOW)
    assert [a["rule"] for a in actions] == [2, 4, 5, 7]
    rules[1].is_active = False
    actions, stage = next_actions(70, [], rules, now=NOW)
    assert actions == []
    assert stage == ""


def test_the_first_matching_rule_with_a_stage_gives_the_stage():
    rules = [
        NextActionRule(pk=10, signal="hiring", action="Mention hiring", due_in_hours=1),
        NextActionRule(pk=11, min_score=50, action="Call", due_in_hours=2, stage="meeting"),
        NextActionRule(pk=12, min_score=0, action="E-mail", due_in_hours=3, stage="lead"),
    ]
    actions, stage = next_actions(55, ["hiring"], rules, now=NOW)
    assert [a["rule"] for a in actions] == [10, 11, 12]
    assert stage == "meeting"


def test_profile_for_creates_the_profile_and_default_rules_once(subaccount):
    profile = profile_for(subaccount)
    assert profile_for(subaccount).pk == profile.pk
    rules = list(NextActionRule.objects.filter(subaccount=subaccount))
    assert [r.action for r in rules] == [values["action"] for values in DEFAULT_NEXT_ACTION_RULES]
    assert [r.position for r in rules] == list(range(len(DEFAULT_NEXT_ACTION_RULES)))
    assert rules[0].min_score == 80 and rules[0].stage == "qualified" and rules[0].due_in_hours == 48


@pytest.mark.django_db(transaction=True)
def test_profile_for_at_once_from_two_threads_makes_one_profile_and_one_rule_table(subaccount):
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait()
            profile_for(subaccount)
        except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert ScoringProfile.objects.filter(subaccount=subaccount).count() == 1
    assert NextActionRule.objects.filter(subaccount=subaccount).count() == len(DEFAULT_NEXT_ACTION_RULES)
