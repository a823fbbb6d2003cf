"""How forms show an integration's automation overrides: a blank override follows the sub-account's
default (``integrations.automation``), so the empty choice reads "Default", not Django's "Unknown"."""

from django import forms
from django.db import models

from integrations.models import AUTOMATION_SETTINGS

DEFAULT_LABEL = "Default (the sub-account's)"


class DefaultYesNoSelect(forms.NullBooleanSelect):
    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = (("unknown", DEFAULT_LABEL), ("true", "Yes"), ("false", "No"))


def automation_formfield(db_field: models.Field, **kwargs) -> forms.Field | None:
    """A model form's field for ``db_field``, the nullable automation toggles as Default / Yes / No
    (use as ``formfield_callback``)."""
    if db_field.name in AUTOMATION_SETTINGS and isinstance(db_field, models.BooleanField) and db_field.null:
        kwargs["widget"] = DefaultYesNoSelect
    return db_field.formfield(**kwargs)
