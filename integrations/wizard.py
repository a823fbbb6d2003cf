"""The admin setup wizard: choose template → configure → test connection → review and activate.

Secrets never sit in the session: the configure step saves a pending Integration (config encrypted
at rest) and strips secret fields from the step data formtools keeps. Later steps rebuild the
configure form with the stored config, where a blank secret means "keep the stored one". OAuth
leaves the wizard for the provider's authorize page and comes back with ``?resume=1``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from formtools.wizard.views import SessionWizardView

from connectors.registry import connector_class
from integrations import services
from integrations.admin_scope import integration_for, subaccounts_for
from integrations.automation_forms import automation_formfield
from integrations.config_schema import ConfigInvalid, redact_config, secret_paths, secrets_set
from integrations.hooks import wizard_mappings_chosen
from integrations.models import Integration, IntegrationTemplate
from integrations.oauth_apps import config_schema_for
from integrations.schema_forms import config_form_class, render_help_markdown
from integrations.wizard_setup import SetupStepForm, choices_save, uses_setup_choices
from integrations.wizard_tables import TablesStepForm, is_deferred, keep_deferred, uses_tables


class TemplateStepForm(forms.Form):
    template = forms.ModelChoiceField(
        queryset=IntegrationTemplate.objects.none(),
        widget=forms.RadioSelect,
        empty_label=None,
        to_field_name="key",
        label="Integration",
    )
    subaccount = forms.ModelChoiceField(queryset=None, label="Sub-account")
    name = forms.CharField(max_length=200, required=False, help_text="Defaults to the template's name")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        available = [t.pk for t in IntegrationTemplate.objects.filter(is_active=True) if t.is_available]
        self.fields["template"].queryset = IntegrationTemplate.objects.filter(pk__in=available)
        self.fields["subaccount"].queryset = subaccounts_for(user)


class TestStepForm(forms.Form):
    """Passes only once a live connection test has succeeded for the draft integration."""

    def __init__(self, *args, integration: Integration | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.integration = integration

    def clean(self):
        if self.integration is None:
            raise forms.ValidationError("Configure the integration first.")
        self.integration.refresh_from_db()
        if not self.integration.last_test_ok:
            raise forms.ValidationError("Run the connection test successfully before continuing.")
        return super().clean()


class ReviewStepForm(forms.ModelForm):
    """The sync settings, with the model's choices and defaults; ``done`` passes them to
    ``integration_update`` (the form never saves an instance itself)."""

    sync_interval_minutes = forms.IntegerField(
        min_value=1, max_value=1440, initial=15, label="Sync every (minutes)"
    )

    class Meta:
        model = Integration
        fields = Integration.SYNC_SETTINGS
        formfield_callback = automation_formfield


STEPS = [
    ("template", TemplateStepForm),
    ("configure", forms.Form),
    ("test", TestStepForm),
    ("tables", TablesStepForm),  # only for providers whose records live in the user's tables
    ("choices", SetupStepForm),  # only for providers whose setup asks about their live data
    ("review", ReviewStepForm),
]
STEP_TITLES = {
    "template": "Choose",
    "configure": "Configure",
    "test": "Test connection",
    "tables": "Tables & columns",
    "choices": "Choices",
    "review": "Review",
}


def _tables_step_applies(wizard: IntegrationWizard) -> bool:
    return uses_tables(wizard.chosen_template())


def _choices_step_applies(wizard: IntegrationWizard) -> bool:
    return uses_setup_choices(wizard.chosen_template())


class IntegrationWizard(SessionWizardView):
    form_list = STEPS
    condition_dict = {"tables": _tables_step_applies, "choices": _choices_step_applies}
    template_name = "admin/integrations/wizard.html"

    # --- state -------------------------------------------------------------------------------

    def draft(self) -> Integration | None:
        pk = self.storage.extra_data.get("integration_id")
        if not pk:
            return None
        try:
            return integration_for(self.request.user, pk)
        except Exception:  # noqa: BLE001 (deleted meanwhile: start over)
            return None

    def chosen_template(self) -> IntegrationTemplate | None:
        key = self.storage.extra_data.get("template")
        return IntegrationTemplate.objects.filter(key=key).first() if key else None

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Coming back from the provider's authorize page (or the test button): stay where we were.
        if request.GET.get("resume") and self.storage.current_step:
            return self.render(self.get_form())
        return super().get(request, *args, **kwargs)

    # --- forms -------------------------------------------------------------------------------

    def get_form_kwargs(self, step=None):
        if step == "template":
            return {"user": self.request.user}
        if step in ("test", "tables", "choices"):
            return {"integration": self.draft()}
        return {}

    def get_form_initial(self, step):
        if step == "template":
            initial = {"template": self.request.GET.get("template", "")}
            subaccounts = subaccounts_for(self.request.user)
            if subaccounts.count() == 1:
                initial["subaccount"] = subaccounts.first()
            return initial
        if step == "review" and (draft := self.draft()):
            return {name: getattr(draft, name) for name in ReviewStepForm.base_fields}
        return super().get_form_initial(step)

    def get_form(self, step=None, data=None, files=None):
        step = step or self.steps.current
        if step != "configure":
            return super().get_form(step, data, files)
        self.get_form_list()  # formtools expects its form-list cache to exist after a valid POST
        template = self.chosen_template()
        draft = self.draft()
        # With an operator OAuth app, the sub-account need not enter client credentials.
        schema = config_schema_for(template) if template else {"type": "object", "properties": {}}
        stored = draft.config if draft and draft.template_id == getattr(template, "pk", None) else None
        form_class = config_form_class(schema, stored=stored, skip=is_deferred)
        return form_class(
            data=data,
            prefix=self.get_form_prefix(step, form_class),
            initial=redact_config(schema, stored or {}) if stored else None,
        )

    def process_step(self, form):
        step = self.steps.current
        if step == "template":
            self.storage.extra_data = {
                **self.storage.extra_data,
                "template": form.cleaned_data["template"].key,
                "subaccount": form.cleaned_data["subaccount"].pk,
                "name": form.cleaned_data["name"],
            }
        elif step == "configure":
            self._save_draft(form)
            return self._without_secrets(form)
        elif step == "tables":
            self._save_tables(form)
        elif step == "choices":
            self._save_choices(form)
        return self.get_form_step_data(form)

    def _save_tables(self, form: TablesStepForm) -> None:
        """The chosen tables and columns into the config; the column mappings to the sync layer."""
        draft = self.draft()
        actor = f"user:{self.request.user.get_username()}"
        services.integration_update(
            integration=draft, actor=actor, config=form.config_changes(draft.config or {})
        )
        draft.refresh_from_db()
        wizard_mappings_chosen.send(sender=IntegrationWizard, integration=draft, mappings=form.mappings())

    def _save_choices(self, form: SetupStepForm) -> None:
        actor = f"user:{self.request.user.get_username()}"
        choices_save(integration=self.draft(), applied=form.applied, actor=actor)

    def _without_secrets(self, form) -> dict:
        """The POST data formtools stores in the session, minus every secret field."""
        template = self.chosen_template()
        secret_names = {".".join(p) for p in secret_paths(template.config_schema)} if template else set()
        prefix = self.get_form_prefix("configure", form)
        data = form.data.copy()  # a QueryDict: formtools keeps every value list as it came
        for name in secret_names:
            data.pop(f"{prefix}-{name}", None)
        return data

    def _save_draft(self, form) -> None:
        template = self.chosen_template()
        extra = self.storage.extra_data
        draft = self.draft()
        actor = f"user:{self.request.user.get_username()}"
        if draft is None or draft.template_id != template.pk:
            subaccount = subaccounts_for(self.request.user).get(pk=extra["subaccount"])
            draft = services.integration_create(
                subaccount=subaccount,
                template=template,
                name=extra.get("name") or template.display_name,
                config=form.config,
                actor=actor,
                created_by=self.request.user,
            )
            self.storage.extra_data = {**extra, "integration_id": draft.pk}
        else:
            # What the tables step chose is not asked here: keep it.
            config = keep_deferred(template.config_schema, draft.config, dict(form.config))
            services.integration_update(integration=draft, actor=actor, config=config)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().post(request, *args, **kwargs)
        except ConfigInvalid as exc:
            messages.error(request, f"The configuration was refused: {exc}")
            return self.render(self.get_form(data=request.POST))

    # --- rendering ----------------------------------------------------------------------------

    def get_context_data(self, form, **kwargs):
        context = super().get_context_data(form=form, **kwargs)
        template, draft = self.chosen_template(), self.draft()
        context.update(admin.site.each_context(self.request))
        context.update(
            {
                "title": "Set up an integration",
                "step_titles": [(name, STEP_TITLES[name]) for name in self.get_form_list()],
                "chosen_template": template,
                "draft": draft,
                "setup_help": render_help_markdown(template.setup_instructions) if template else "",
                "resume_url": reverse("admin:integrations_wizard") + "?resume=1",
            }
        )
        if self.steps.current == "template":
            context["templates"] = IntegrationTemplate.objects.filter(is_active=True).order_by(
                "category", "display_name"
            )
        if draft is not None and self.steps.current in ("test", "review"):
            connector = connector_class(draft.template.connector)(draft.config or {})
            context.update(
                {
                    "uses_oauth": connector.uses_oauth(),
                    "connected": bool(draft.tokens),
                    "config_summary": redact_config(draft.template.config_schema, draft.config or {}),
                    "secrets_set": secrets_set(draft.template.config_schema, draft.config or {}),
                }
            )
        return context

    def done(self, form_list, form_dict=None, **kwargs):
        draft = self.draft()
        review = form_dict["review"]
        actor = f"user:{self.request.user.get_username()}"
        services.integration_update(integration=draft, actor=actor, **review.cleaned_data)
        try:
            services.integration_activate(integration=draft, actor=actor)
        except services.InvalidTransition as exc:
            messages.error(self.request, str(exc))
            return HttpResponseRedirect(reverse("admin:integrations_integration_change", args=[draft.pk]))
        messages.success(self.request, f"{draft.name} is active.")
        return HttpResponseRedirect(reverse("admin:integrations_integration_change", args=[draft.pk]))
