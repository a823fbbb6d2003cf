"""The wizard's "Choices" step, for providers whose setup needs choices only their live data can
offer (``connectors.capabilities.SetupChoices``): the pipeline and stages deals go to, which
platform field each lead-form question fills.

The questions are read from the provider once the connection test has passed. The answers become
config (merged into the integration's) and field mappings (announced through
``integrations.hooks.wizard_mappings_chosen`` for the sync layer to store), as the tables step's do.
The integration's page asks them again later (*Choices*), with the current config as the answers.
"""

from __future__ import annotations

from typing import Any

from django import forms

from connectors.capabilities import SetupAnswers, SetupChoices, SetupQuestion
from connectors.errors import ConnectorError
from connectors.registry import connector_offers
from integrations import services
from integrations.hooks import wizard_mappings_chosen
from integrations.models import Integration, IntegrationTemplate
from integrations.services import connector_for

PREFIX = "q__"


def uses_setup_choices(template: IntegrationTemplate | None) -> bool:
    return template is not None and connector_offers(template.connector, SetupChoices)


class SetupStepForm(forms.Form):
    """One choice field per question, grouped as the connector groups them."""

    def __init__(self, *args: Any, integration: Integration | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.integration = integration
        self.problem = ""
        self.title = "Choices"
        self.groups: list[tuple[str, list[str]]] = []
        self.applied = SetupAnswers()  # what the answers change, once they are valid
        if integration is None:
            self.problem = "Configure the integration first."
            return
        self.connector: SetupChoices = connector_for(integration)
        self.title = self.connector.setup_title
        try:
            questions = self.connector.setup_questions()
        except ConnectorError as exc:
            self.problem = f"Could not read the choices from {integration.template.display_name}: {exc}"
            return
        for question in questions:
            self._add(question)

    def _add(self, question: SetupQuestion) -> None:
        name = PREFIX + question.key
        choices = list(question.choices)
        if not question.required and "" not in {value for value, _label in choices}:
            choices.insert(0, ("", "— none —"))
        self.fields[name] = forms.ChoiceField(
            label=question.label,
            choices=choices,
            required=question.required,
            initial=question.initial,
            help_text=question.help_text,
        )
        for title, names in self.groups:
            if title == question.group:
                names.append(name)
                return
        self.groups.append((question.group, [name]))

    def clean(self) -> dict[str, Any]:
        if self.problem:
            raise forms.ValidationError(self.problem)
        cleaned = super().clean()
        if not self.errors:
            try:
                self.applied = self.connector.setup_apply(self.answers())
            except ConnectorError as exc:
                raise forms.ValidationError(f"Those choices were refused: {exc}") from exc
        return cleaned

    def answers(self) -> dict[str, str]:
        """Question key → chosen value ("" for none)."""
        return {
            name.removeprefix(PREFIX): value or ""
            for name, value in self.cleaned_data.items()
            if name.startswith(PREFIX)
        }

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(title, [self[name] for name in names]) for title, names in self.groups if names]


def choices_save(*, integration: Integration, applied: SetupAnswers, actor: str) -> None:
    """The answers' config into the integration's; their mappings to the sync layer."""
    if applied.config:
        services.integration_update(
            integration=integration, actor=actor, config={**(integration.config or {}), **applied.config}
        )
        integration.refresh_from_db()
    if applied.mappings:
        wizard_mappings_chosen.send(sender=SetupStepForm, integration=integration, mappings=applied.mappings)
