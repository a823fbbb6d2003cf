"""The wizard's lead-form questions (``connectors.capabilities.SetupChoices``): for each question the
Page's forms ask, which contact field its answer fills.

Choices are the canonical contact fields, the question's own custom field
(``custom_fields.<question key>``), "not imported" and, for ``full_name``, the first and last name
split from it (what the default mappings do). Standard keys start at their default mapping
(``email`` → email, ``phone_number`` → phone...); the contact questions without a canonical field
(``city``, ``zip_code``, ``country``) and every custom question start at their custom field.

The answers become contact mappings in the shape ``integrations.hooks.wizard_mappings_chosen``
carries: {canonical field: question key}, "" switching off the default mapping a question was
steered away from. A custom field is named in its stored form, ``custom:<key>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.capabilities import SetupAnswers, SetupQuestion
from connectors.errors import ConfigError
from connectors.types import CANONICAL_FIELDS

CUSTOM_CHOICE = "custom_fields."  # how a choice names a custom field
CUSTOM_STORED = "custom:"  # how mappings store it (sync.fields.CUSTOM_LOCAL_PREFIX)
NOT_IMPORTED = ""
SPLIT_NAME = "split_name"  # full_name → first and last name
# Canonical fields an answer may fill: not our id, nor an owner (a user id no form asks for).
TARGETS = tuple(f for f in CANONICAL_FIELDS["contact"] if f not in ("external_id", "owner_id"))
DEFAULT_TARGETS = {
    "email": "email",
    "phone_number": "phone",
    "first_name": "first_name",
    "last_name": "last_name",
    "full_name": SPLIT_NAME,
    "company_name": "company_name",
    "job_title": "job_title",
}
GROUP = "Lead form questions"


@dataclass(frozen=True)
class FormQuestion:
    """A question as the Page's forms ask it (a key several forms share is asked once)."""

    key: str
    label: str
    forms: tuple[str, ...]


def form_questions(forms: Iterable[Mapping[str, Any]]) -> list[FormQuestion]:
    """Each distinct question key of the forms, in the order first met, with the forms asking it."""
    found: dict[str, tuple[str, list[str]]] = {}
    for form in forms:
        for question in form.get("questions") or []:
            if not isinstance(question, dict) or not question.get("key"):
                continue
            key = str(question["key"])
            label, names = found.setdefault(key, (str(question.get("label") or key), []))
            names.append(str(form.get("name") or form.get("id") or ""))
    return [FormQuestion(key, label, tuple(names)) for key, (label, names) in found.items()]


def initial_target(key: str) -> str:
    return DEFAULT_TARGETS.get(key, CUSTOM_CHOICE + key)


def target_choices(key: str) -> tuple[tuple[str, str], ...]:
    split = ((SPLIT_NAME, "First and last name (split)"),) if key == "full_name" else ()
    canonical = tuple((name, name.replace("_", " ").capitalize()) for name in TARGETS)
    custom = ((CUSTOM_CHOICE + key, f"Custom field “{key}”"),)
    return (*split, *canonical, *custom, (NOT_IMPORTED, "Not imported"))


def setup_question(question: FormQuestion) -> SetupQuestion:
    return SetupQuestion(
        key=question.key,
        label=question.label,
        choices=target_choices(question.key),
        initial=initial_target(question.key),
        help_text=f"Asked on: {', '.join(question.forms)}",
        group=GROUP,
    )


def fills(key: str, target: str) -> dict[str, str]:
    """{local field: remote field} a question's answer fills when it goes to ``target``."""
    if target == NOT_IMPORTED:
        return {}
    if target == SPLIT_NAME:  # the lead's first_name/last_name, split from full_name when absent
        return {"first_name": "first_name", "last_name": "last_name"}
    if target.startswith(CUSTOM_CHOICE):
        return {CUSTOM_STORED + target[len(CUSTOM_CHOICE) :]: key}
    return {target: key}


def answers_mappings(questions: list[FormQuestion], answers: Mapping[str, str]) -> SetupAnswers:
    """The contact mappings the answers make; unanswered questions keep their initial choice.
    Raises ConfigError for a choice a question does not offer, or two questions filling one field."""
    chosen: dict[str, str] = {}
    steered_away: list[str] = []
    for question in questions:
        target = str(answers.get(question.key, initial_target(question.key)))
        if target not in dict(target_choices(question.key)):
            raise ConfigError(f"{question.label}: {target!r} is not one of the choices", field=question.key)
        for local, remote in fills(question.key, target).items():
            if chosen.get(local, remote) != remote:
                raise ConfigError(
                    f"{question.label}: {local} is already filled by {chosen[local]!r}; pick another field",
                    field=question.key,
                )
            chosen[local] = remote
        if target != initial_target(question.key):
            steered_away += list(fills(question.key, initial_target(question.key)))
    for local in steered_away:
        chosen.setdefault(local, NOT_IMPORTED)
    return SetupAnswers(mappings={"contact": chosen})
